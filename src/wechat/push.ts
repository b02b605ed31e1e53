import { createHash, timingSafeEqual } from 'node:crypto';
import { labelOf } from './content-check.client';

/**
 * The message push URL's signature (plain and compatible mode): sha1 over the token, the timestamp and the nonce,
 * sorted as strings and joined. It covers only those three, never the body: see verifyPushQuery for what makes a
 * captured signature useless for a forged body.
 */
export function pushSignature(token: string, timestamp: string, nonce: string): string {
  return createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
}

/** How far a push's timestamp may be from our clock. WeChat retries a push within seconds; anything older is a replay. */
export const PUSH_MAX_SKEW_SECONDS = 300;

export type PushQueryVerdict = { ok: true; timestamp: string; nonce: string } | { ok: false; reason: string };

/**
 * The signature query WeChat puts on every push (`signature`, `timestamp`, `nonce`), checked in constant time against
 * the token, and the timestamp within PUSH_MAX_SKEW_SECONDS of `nowSeconds`. `reason` is for the log: it never
 * quotes the token or the expected signature.
 */
export function verifyPushQuery(
  token: string,
  query: { signature?: unknown; timestamp?: unknown; nonce?: unknown },
  nowSeconds: number,
): PushQueryVerdict {
  const { signature, timestamp, nonce } = query;
  if (typeof signature !== 'string' || typeof timestamp !== 'string' || typeof nonce !== 'string')
    return { ok: false, reason: 'signature, timestamp or nonce missing' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'timestamp is not a number of seconds' };
  if (!/^[0-9A-Za-z]{1,64}$/.test(nonce)) return { ok: false, reason: 'nonce is not 1 to 64 letters or digits' };
  if (!/^[0-9a-f]{40}$/i.test(signature)) return { ok: false, reason: 'signature is not a sha1 hex digest' };
  const expected = Buffer.from(pushSignature(token, timestamp, nonce), 'ascii');
  if (!timingSafeEqual(expected, Buffer.from(signature.toLowerCase(), 'ascii')))
    return { ok: false, reason: 'signature does not match the token' };
  if (Math.abs(nowSeconds - Number(timestamp)) > PUSH_MAX_SKEW_SECONDS)
    return { ok: false, reason: `timestamp is more than ${PUSH_MAX_SKEW_SECONDS} s from this server's clock` };
  return { ok: true, timestamp, nonce };
}

/** A pushed event in JSON: `Event` names it (MsgType "event"); the rest is the event's own. */
export interface PushEvent {
  event: string;
  body: Record<string, unknown>;
}

/**
 * A POSTed push body in JSON plain mode. Undefined when it is not a JSON object with a string MsgType: the caller
 * answers that as malformed. A message that is not an event (MsgType text, image, …) gets the event name `msg:<type>`.
 */
export function parsePushEvent(raw: string): PushEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const body = parsed as Record<string, unknown>;
  if (typeof body.MsgType !== 'string' || !body.MsgType) return undefined;
  if (body.MsgType !== 'event') return { event: `msg:${body.MsgType}`, body };
  return typeof body.Event === 'string' && body.Event ? { event: body.Event, body } : undefined;
}

/** wxa_media_check's result: which submission (trace_id only: the push carries no media_url) and WeChat's verdict. */
export interface MediaCheckResultEvent {
  appid?: string;
  traceId: string;
  /** pass, review or risky; a push with an errcode (the image could not be fetched or checked) is `risky`: nothing unchecked is shown. */
  suggest: 'pass' | 'review' | 'risky';
  label?: number;
  errcode: number;
}

/**
 * The wxa_media_check event's fields, or a reason it is unusable. `result.label` may come as a string there; an
 * errcode other than 0 means WeChat could not judge the image, which never counts as a pass.
 */
export function parseMediaCheckEvent(body: Record<string, unknown>): MediaCheckResultEvent | { error: string } {
  const traceId = body.trace_id;
  if (typeof traceId !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(traceId)) return { error: 'no usable trace_id' };
  const errcode = body.errcode === undefined ? 0 : Number(body.errcode);
  if (!Number.isInteger(errcode)) return { error: 'errcode is not an integer' };
  const result = body.result as { suggest?: unknown; label?: unknown } | undefined;
  const label = labelOf(result?.label);
  const appid = typeof body.appid === 'string' ? body.appid : undefined;
  const base = { traceId, errcode, ...(label !== undefined ? { label } : {}), ...(appid ? { appid } : {}) };
  if (errcode !== 0) return { ...base, suggest: 'risky' };
  const suggest = result?.suggest;
  if (suggest !== 'pass' && suggest !== 'review' && suggest !== 'risky') return { error: 'no known result.suggest' };
  return { ...base, suggest };
}
