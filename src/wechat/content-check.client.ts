import { AppError, type ErrorCode } from '../core/errors';
import { TOKEN_REJECTED_ERRCODES } from './access-token';
import { callWeChat, observed, readWeChatJson, type CallObserver } from './http';

const API = 'msg_sec_check';
const IMAGE_API = 'media_check_async';

/** media_check_async's media_type for an image (1 is audio). */
export const MEDIA_TYPE_IMAGE = 2;

/** msg_sec_check's scenes: what kind of text is checked. A nickname is profile data (1). */
export const SCENE = { profile: 1, comment: 2, forum: 3, socialLog: 4 } as const;
export type Scene = (typeof SCENE)[keyof typeof SCENE];

/** WeChat's longest content, in characters. */
export const CONTENT_MAX = 2500;

/** WeChat's verdict on one text. `suggest` is pass, review or risky; anything but pass is refused by our callers. */
export interface TextVerdict {
  suggest: 'pass' | 'review' | 'risky';
  /** 100 normal; 20001 political, 20002 porn, 20003 abuse, 20006 illegal, 20008 fraud, 20012 vulgar, 10001 ads, 21000 other. Absent for version 1's 87014. */
  label?: number;
  traceId?: string;
}

export interface ContentCheckClientOptions {
  /** e.g. https://api.weixin.qq.com, or the simulator's base. Read per call: the simulator's is known only after listen. */
  apiBase: () => string;
  timeoutMs: number;
  onCall?: CallObserver;
}

/** msg_sec_check's errcodes, mapped to ours. Anything unlisted (40003 a bad openid, 61010 a user not seen in 2 hours, 47001, …) is WECHAT_UNAVAILABLE. */
const ERRCODES: Record<number, ErrorCode> = {
  // 44991: over the AppID's 4,000 checks a minute (WeChat staff on its forum); 45009 over the day's; 45011 too frequent.
  44991: 'WECHAT_RATE_LIMITED',
  45009: 'WECHAT_RATE_LIMITED',
  45011: 'WECHAT_RATE_LIMITED',
  [-1]: 'WECHAT_UNAVAILABLE',
};

/** Version 1's errcode for risky content: version 2 answers a verdict instead, but a refusal is a refusal. */
const V1_RISKY = 87014;

const RATE_LIMITED_MESSAGE = 'WeChat rate-limited the content check: retry later.';

export function createContentCheckClient(opts: ContentCheckClientOptions) {
  return {
    /**
     * security.msgSecCheck version 2 for the text `content` a user wrote (`openid` must have used the mini-program
     * within 2 hours). Run it through the access_token manager's withToken: a refused token is reported with
     * extensions.wechatErrcode. The content goes as raw UTF-8 (JSON.stringify escapes nothing outside ASCII;
     * `\uXXXX` escapes would make everything pass).
     */
    async checkText(accessToken: string, content: string, openid: string, scene: Scene): Promise<TextVerdict> {
      const query = new URLSearchParams({ access_token: accessToken });
      const body = JSON.stringify({ content, version: 2, scene, openid });
      return observed(API, opts.onCall, async () => {
        const res = await callWeChat(
          `${opts.apiBase()}/wxa/msg_sec_check?${query}`,
          { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body },
          opts.timeoutMs,
          API,
        );
        return parseTextVerdict(res.status, res.text);
      });
    },

    /**
     * security.mediaCheckAsync version 2 for the image at `mediaUrl` (WeChat downloads it itself: a public URL, at most
     * 10 MB). Answers the trace_id its result will be pushed with, to the mini-program's message push URL, within
     * 30 minutes. Run it through withToken like checkText.
     */
    async submitImage(
      accessToken: string,
      mediaUrl: string,
      openid: string,
      scene: Scene,
    ): Promise<{ traceId: string }> {
      const query = new URLSearchParams({ access_token: accessToken });
      const body = JSON.stringify({ media_url: mediaUrl, media_type: MEDIA_TYPE_IMAGE, version: 2, scene, openid });
      return observed(IMAGE_API, opts.onCall, async () => {
        const res = await callWeChat(
          `${opts.apiBase()}/wxa/media_check_async?${query}`,
          { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body },
          opts.timeoutMs,
          IMAGE_API,
        );
        return parseImageSubmit(res.status, res.text);
      });
    },
  };
}

export type ContentCheckClient = ReturnType<typeof createContentCheckClient>;

const unavailable = (cause: string, api = API) => new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause });

/** An errcode as our error: a refused token is WECHAT_UNAVAILABLE carrying it (withToken retries those). */
function refused(api: string, errcode: number, errmsg: unknown): AppError {
  const code = TOKEN_REJECTED_ERRCODES.has(errcode)
    ? 'WECHAT_UNAVAILABLE'
    : (ERRCODES[errcode] ?? 'WECHAT_UNAVAILABLE');
  return new AppError(
    code,
    code === 'WECHAT_RATE_LIMITED' ? RATE_LIMITED_MESSAGE : undefined,
    { api, wechatErrcode: errcode },
    { cause: `${api} errcode ${errcode}: ${String(errmsg)}` },
  );
}

/** WeChat's trace ids are short printable ASCII (e.g. `6012bd1f-2d0e8a1b-4b0d6b8c`); our columns hold 64. */
const TRACE_ID = /^[\x21-\x7e]{1,64}$/;

/** media_check_async's immediate answer: `{errcode: 0, errmsg: "ok", trace_id}`; the verdict comes later, pushed. */
export function parseImageSubmit(status: number, text: string): { traceId: string } {
  const { body, errcode } = readWeChatJson(IMAGE_API, status, text);
  if (errcode !== 0) throw refused(IMAGE_API, errcode, body.errmsg);
  const traceId = body.trace_id;
  if (typeof traceId !== 'string' || !TRACE_ID.test(traceId))
    throw unavailable('answer without a usable trace_id', IMAGE_API);
  return { traceId };
}

const SUGGESTS: ReadonlySet<string> = new Set(['pass', 'review', 'risky']);

/** A label as a number: WeChat sends a number here, and a string in the media check's push. */
export function labelOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,9}$/.test(v)) return Number(v);
  return undefined;
}

/**
 * The answer, parsed whatever its Content-Type. Causes name what was wrong, never the text checked.
 * A token WeChat refused (40001/40014/42001) is WECHAT_UNAVAILABLE carrying its errcode, which withToken retries.
 */
export function parseTextVerdict(status: number, text: string): TextVerdict {
  const { body, errcode } = readWeChatJson(API, status, text);
  const traceId = typeof body.trace_id === 'string' && body.trace_id ? body.trace_id : undefined;
  if (errcode === V1_RISKY) return { suggest: 'risky', ...(traceId ? { traceId } : {}) };
  if (errcode !== 0) throw refused(API, errcode, body.errmsg);
  const result = body.result as { suggest?: unknown; label?: unknown } | undefined;
  const suggest = result?.suggest;
  // No verdict is not a pass: an answer we cannot read lets nothing through.
  if (typeof suggest !== 'string' || !SUGGESTS.has(suggest)) throw unavailable('answer without a known result.suggest');
  const label = labelOf(result?.label);
  return {
    suggest: suggest as TextVerdict['suggest'],
    ...(label !== undefined ? { label } : {}),
    ...(traceId ? { traceId } : {}),
  };
}
