import type { FastifyInstance, FastifyReply } from 'fastify';
import { encryptUserData } from '../wechat/user-data';
import { sleepUnlessGone } from './sleep';
import { type LoginFault, rid, type SimulatorState } from './state';

export interface SimulatorLoginOptions {
  appid: string;
  secret: string;
  state: SimulatorState;
}

/** The most codes one /dev/login-codes call mints (about 70 bytes of JSON each). */
export const MAX_BULK_CODES = 10_000;

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'risky user',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
};

/** WeChat labels this JSON text/plain, which is exactly what a careless client trips over. */
function wechatJson(reply: FastifyReply, body: object) {
  return reply.header('content-type', 'text/plain').send(JSON.stringify(body));
}

function wechatError(reply: FastifyReply, errcode: number) {
  return wechatJson(reply, { errcode, errmsg: `${ERRMSG[errcode] ?? 'error'}, rid: ${rid()}` });
}

export function registerLoginRoutes(app: FastifyInstance, opts: SimulatorLoginOptions) {
  const { state } = opts;

  /** auth.code2Session, as WeChat serves it. */
  app.get<{ Querystring: Record<string, string | undefined> }>('/sns/jscode2session', async (req, reply) => {
    const { appid, secret, js_code: code, grant_type: grantType } = req.query;
    if (appid !== opts.appid) return wechatError(reply, 40013);
    if (secret !== opts.secret) return wechatError(reply, 40125);
    if (grantType !== 'authorization_code' || !code) return wechatError(reply, 40029);

    const fault = state.faultOf(code);
    if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
    if (reply.raw.destroyed || req.raw.destroyed) return reply;
    if (fault?.httpStatus)
      return reply.code(fault.httpStatus).type('text/html').send('<html><body>Bad Gateway</body></html>');
    if (fault?.garbage) return reply.type('text/html').send('<html>upstream garbage, not JSON');
    if (fault?.errcode !== undefined) return wechatError(reply, fault.errcode);

    const result = state.redeem(code);
    if (!result.ok) return wechatError(reply, result.errcode);
    return wechatJson(reply, {
      session_key: result.sessionKey,
      openid: result.openid,
      ...(result.unionid ? { unionid: result.unionid } : {}),
    });
  });

  /** Developer endpoint, plays wx.login: a fresh code for a given openid, or for a new user. */
  app.post<{ Body: { openid?: string; unionid?: string; fault?: LoginFault } | undefined }>(
    '/dev/login-code',
    async (req) => {
      const body = req.body ?? {};
      return state.mintCode(body.openid || undefined, body.unionid || undefined, body.fault);
    },
  );

  /** Developer endpoint for load tests: many wx.login codes in one call, each for a new user, or all for `openid`. */
  app.post<{ Body: { count?: unknown; openid?: unknown } | undefined }>('/dev/login-codes', async (req, reply) => {
    const { count, openid } = req.body ?? {};
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_BULK_CODES) {
      return reply.code(400).send({ error: `count must be an integer from 1 to ${MAX_BULK_CODES}` });
    }
    if (openid !== undefined && (typeof openid !== 'string' || !openid))
      return reply.code(400).send({ error: 'openid must be a non-empty string' });
    return { codes: state.mintCodes(count, openid) };
  });

  /**
   * Developer endpoint, plays wx.getUserProfile: encrypts a profile with the user's *current* session_key,
   * stamped with a watermark. openId comes first, as WeChat writes it. `appid`, `timestamp` and `openId` (null: none)
   * override what WeChat would stamp, and a `unionId` in `profile` overrides the user's, for tests.
   */
  app.post<{
    Body: {
      openid: string;
      profile?: Record<string, unknown>;
      appid?: string;
      timestamp?: number;
      openId?: string | null;
    };
  }>('/dev/user-data', async (req, reply) => {
    const body = req.body;
    const user = body?.openid ? state.user(body.openid) : undefined;
    if (!user?.sessionKey)
      return reply
        .code(404)
        .send({ error: 'no session for this openid: log in with a code from /dev/login-code first' });
    const openId = body.openId === null ? undefined : (body.openId ?? user.openid);
    const { unionId = user.unionid, ...profile }: Record<string, unknown> = body.profile ?? defaultProfile();
    const payload = {
      ...(openId ? { openId } : {}),
      ...profile,
      ...(unionId ? { unionId } : {}),
      watermark: { appid: body.appid ?? opts.appid, timestamp: body.timestamp ?? Math.floor(Date.now() / 1000) },
    };
    return encryptUserData(payload, user.sessionKey);
  });
}

/** What WeChat returns since 2022-10-25: the anonymous profile. */
function defaultProfile() {
  return {
    nickName: '微信用户',
    gender: 0,
    language: '',
    city: '',
    province: '',
    country: '',
    avatarUrl:
      'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132',
  };
}
