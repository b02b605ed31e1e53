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
