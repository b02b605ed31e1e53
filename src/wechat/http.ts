import { Agent, request } from 'node:https';
import { AppError } from '../core/errors';

/** Told the outcome of every call to WeChat ('ok' or our error code), for metrics. */
export type CallObserver = (api: string, outcome: string) => void;

/** Runs one WeChat call and reports its outcome to `observe`, whichever way it ends. */
export async function observed<T>(api: string, observe: CallObserver | undefined, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    observe?.(api, 'ok');
    return result;
  } catch (err) {
    observe?.(api, (err as AppError).code ?? 'error');
    throw err;
  }
}

export interface UpstreamResponse {
  status: number;
  text: string;
}

/**
 * One HTTP round trip to WeChat, bounded by `timeoutMs`. Network failures and timeouts become
 * WECHAT_UNAVAILABLE; the URL is not put into the error because it carries the AppSecret.
 */
export async function callWeChat(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  api: string,
): Promise<UpstreamResponse> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    // Duck-typed: fetch's DOMException is not always an `instanceof Error` (e.g. across jest's realms).
    const { name, message } = (err ?? {}) as { name?: string; message?: string };
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    throw new AppError(
      'WECHAT_UNAVAILABLE',
      undefined,
      { api },
      { cause: timedOut ? `${api} timed out after ${timeoutMs} ms` : `${api}: ${message}` },
    );
  }
}

/** The merchant's API client certificate for WeChat Pay's mutual-TLS /secapi calls, PEM contents. */
export interface ClientTls {
  cert: string;
  key: string;
  /** Extra CAs to trust (the simulator's test CA); WeChat's own certificate chains to the system's CAs. */
  ca?: string;
}

/** One keep-alive agent per certificate: the TLS handshake with a client certificate is the costly part. */
export function tlsAgent(tls: ClientTls): Agent {
  // An idle socket is dropped after 15 s, before WeChat's side closes it and a POST on it fails mid-way.
  return new Agent({
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca } : {}),
    keepAlive: true,
    maxSockets: 16,
    timeout: 15_000,
  });
}

/** Answers past this are not WeChat Pay's (a refund answer is about 1 KB). */
const TLS_ANSWER_CAP = 256 * 1024;

/**
 * callWeChat over mutual TLS (node:https with the merchant's certificate: fetch cannot present one). The same bound
 * and the same errors: a refused, failed or timed-out handshake or call is WECHAT_UNAVAILABLE, with a cause that says
 * which, and never the certificate or key.
 */
export function callWeChatTls(
  url: string,
  body: string,
  agent: Agent,
  timeoutMs: number,
  api: string,
): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const fail = (cause: string) => reject(new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause }));
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > TLS_ANSWER_CAP) return req.destroy(new Error('answer too large'));
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => fail(`${api}: ${err.message}`));
      },
    );
    req.on('error', (err: Error & { code?: string }) => {
      const timedOut = err.name === 'AbortError' || err.name === 'TimeoutError' || err.code === 'ABORT_ERR';
      fail(timedOut ? `${api} timed out after ${timeoutMs} ms` : `${api}: ${err.code ?? err.message}`);
    });
    req.end(body);
  });
}

/**
 * A WeChat JSON API's answer, parsed whatever its Content-Type says (WeChat may label it text/plain): the body as an
 * object and its errcode (0 when absent). HTTP 5xx and a body that is not a JSON object are WECHAT_UNAVAILABLE for
 * `api`; the cause names what was wrong, never the body.
 */
export function readWeChatJson(
  api: string,
  status: number,
  text: string,
): { body: Record<string, unknown>; errcode: number } {
  const unavailable = (cause: string) => new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause });
  if (status >= 500) throw unavailable(`HTTP ${status}`);
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    throw unavailable(`non-JSON answer, HTTP ${status}`);
  }
  return { body, errcode: typeof body.errcode === 'number' ? body.errcode : 0 };
}
