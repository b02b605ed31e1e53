import { AppError, type ErrorCode } from '../core/errors';
import { callWeChat, observed, readWeChatJson, type CallObserver } from './http';

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid?: string;
}

export interface LoginClientOptions {
  /** e.g. https://api.weixin.qq.com, or the simulator's base. Read per call: the simulator's is known only after listen. */
  apiBase: () => string;
  appid: string;
  secret: string;
  timeoutMs: number;
  onCall?: CallObserver;
}

/** WeChat's errcodes for jscode2session, mapped to ours. Anything unlisted is WeChat misbehaving. */
const ERRCODES: Record<number, ErrorCode> = {
  40029: 'WECHAT_CODE_INVALID',
  40163: 'WECHAT_CODE_INVALID',
  // 45009: the AppID's daily quota (seen from jscode2session during a launch); 45011: the user's minute limit.
  45009: 'WECHAT_RATE_LIMITED',
  45011: 'WECHAT_RATE_LIMITED',
  40226: 'WECHAT_RISKY_USER',
  [-1]: 'WECHAT_UNAVAILABLE',
};

export function createLoginClient(opts: LoginClientOptions) {
  return {
    /** auth.code2Session: exchanges a wx.login code for openid and session_key. */
    async code2Session(code: string): Promise<Code2SessionResult> {
      const query = new URLSearchParams({
        appid: opts.appid,
        secret: opts.secret,
        js_code: code,
        grant_type: 'authorization_code',
      });
      return observed('jscode2session', opts.onCall, async () => {
        const res = await callWeChat(
          `${opts.apiBase()}/sns/jscode2session?${query}`,
          { method: 'GET' },
          opts.timeoutMs,
          'jscode2session',
        );
        return parseCode2Session(res.status, res.text);
      });
    },
  };
}

export type LoginClient = ReturnType<typeof createLoginClient>;

/** WeChat may label the JSON text/plain, so the body is parsed whatever its Content-Type says. */
export function parseCode2Session(status: number, text: string): Code2SessionResult {
  const { body, errcode } = readWeChatJson('jscode2session', status, text);
  if (errcode !== 0) {
    const code = ERRCODES[errcode] ?? 'WECHAT_UNAVAILABLE';
    throw new AppError(
      code,
      undefined,
      { wechatErrcode: errcode },
      { cause: `jscode2session errcode ${errcode}: ${String(body.errmsg)}` },
    );
  }
  const { openid, session_key: sessionKey, unionid } = body;
  if (typeof openid !== 'string' || !openid || typeof sessionKey !== 'string' || !sessionKey) {
    throw new AppError(
      'WECHAT_UNAVAILABLE',
      undefined,
      { api: 'jscode2session' },
      { cause: 'answer without openid or session_key' },
    );
  }
  return { openid, sessionKey, unionid: typeof unionid === 'string' && unionid ? unionid : undefined };
}
