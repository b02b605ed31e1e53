import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sleepUnlessGone } from './sleep';
import { rid } from './state';
import type { StableTokens } from './token.routes';

/** A phone code lives 5 minutes and works once, as WeChat's getPhoneNumber codes do. */
export const PHONE_CODE_TTL_MS = 5 * 60 * 1000;

/** A fault a test attaches to one phone code, played when that code is exchanged (before it is redeemed). */
export interface PhoneFault {
  delayMs?: number;
  /** Answer this errcode instead of the number (e.g. -1, 45011). */
  errcode?: number;
  garbage?: boolean;
  httpStatus?: number;
  /** Stamp this appid in the watermark instead of the simulator's. */
  appid?: string;
}

interface PhoneCode {
  openid: string;
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  expiresAt: number;
  used: boolean;
  fault?: PhoneFault;
}

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40029: 'invalid code',
  41001: 'access_token missing',
  42001: 'access_token expired',
  43002: 'require POST method',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
};

function wechatJson(reply: FastifyReply, body: object) {
  return reply.header('content-type', 'application/json; encoding=utf-8').send(JSON.stringify(body));
}

function wechatError(reply: FastifyReply, errcode: number) {
  return wechatJson(reply, { errcode, errmsg: `${ERRMSG[errcode] ?? 'error'} rid: ${rid()}` });
}

export interface SimulatorPhoneOptions {
  appid: string;
  tokens: StableTokens;
  now?: () => number;
}

/**
 * POST /wxa/business/getuserphonenumber as WeChat serves it (the access_token checked like every API's), and
 * /dev/phone-code, which plays `<button open-type="getPhoneNumber">`: a one-time code for a user's number.
 */
export function registerPhoneRoutes(app: FastifyInstance, opts: SimulatorPhoneOptions) {
  const now = opts.now ?? Date.now;
  const codes = new Map<string, PhoneCode>();
  const sweep = () => {
    const t = now();
    for (const [code, entry] of codes) if (entry.expiresAt <= t) codes.delete(code);
  };

  app.post<{ Querystring: { access_token?: string }; Body: Record<string, unknown> | undefined }>(
    '/wxa/business/getuserphonenumber',
    async (req, reply) => {
      const tokenErr = opts.tokens.check(req.query.access_token);
      if (tokenErr) return wechatError(reply, tokenErr);
      const { code, openid } = req.body ?? {};
      const entry = typeof code === 'string' ? codes.get(code) : undefined;
      const fault = entry?.fault;
      if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
      if (reply.raw.destroyed || req.raw.destroyed) return reply;
      if (fault?.httpStatus)
        return reply.code(fault.httpStatus).type('text/html').send('<html><body>Bad Gateway</body></html>');
      if (fault?.garbage) return reply.type('text/html').send('<html>upstream garbage, not JSON');
      if (fault?.errcode !== undefined) return wechatError(reply, fault.errcode);
      // Unknown, expired, used, or another user's (when the caller names the openid): WeChat answers 40029 for all.
      if (!entry || entry.used || entry.expiresAt <= now()) return wechatError(reply, 40029);
      if (openid !== undefined && openid !== entry.openid) return wechatError(reply, 40029);
      entry.used = true;
      return wechatJson(reply, {
        errcode: 0,
        errmsg: 'ok',
        phone_info: {
          phoneNumber: entry.phoneNumber,
          purePhoneNumber: entry.purePhoneNumber,
          // WeChat sends it as a string, sometimes as a number: the simulator sends the number form for China.
          countryCode: entry.countryCode === '86' ? 86 : entry.countryCode,
          watermark: { timestamp: Math.floor(now() / 1000), appid: fault?.appid ?? opts.appid },
        },
      });
    },
  );
  app.get('/wxa/business/getuserphonenumber', async (_req, reply) => wechatError(reply, 43002));

  /**
   * Developer endpoint, plays the getPhoneNumber button: a one-time code (5 minutes) for `openid`'s number.
   * `purePhoneNumber` defaults to a random 139… number, `countryCode` to 86; phoneNumber carries `+<cc> ` unless
   * the country is China, as WeChat writes it.
   */
  app.post<{
    Body:
      | { openid?: unknown; purePhoneNumber?: unknown; countryCode?: unknown; fault?: PhoneFault; ttlMs?: unknown }
      | undefined;
  }>('/dev/phone-code', async (req, reply) => {
    const body = req.body ?? {};
    if (typeof body.openid !== 'string' || !body.openid)
      return reply.code(400).send({ error: 'openid must be a non-empty string' });
    const pure = body.purePhoneNumber ?? `139${String(randomBytes(4).readUInt32BE() % 1e8).padStart(8, '0')}`;
    if (typeof pure !== 'string' || !/^\d{4,20}$/.test(pure))
      return reply.code(400).send({ error: 'purePhoneNumber must be 4 to 20 digits' });
    const cc = body.countryCode ?? '86';
    const countryCode = typeof cc === 'number' ? String(cc) : cc;
    if (typeof countryCode !== 'string' || !/^\d{1,4}$/.test(countryCode))
      return reply.code(400).send({ error: 'countryCode must be 1 to 4 digits' });
    const ttlMs = body.ttlMs ?? PHONE_CODE_TTL_MS;
    if (typeof ttlMs !== 'number' || !(ttlMs >= 0) || ttlMs > PHONE_CODE_TTL_MS)
      return reply.code(400).send({ error: `ttlMs must be a number from 0 to ${PHONE_CODE_TTL_MS}` });
    sweep();
    const code = randomBytes(24).toString('hex');
    const phoneNumber = countryCode === '86' ? pure : `+${countryCode} ${pure}`;
    codes.set(code, {
      openid: body.openid,
      phoneNumber,
      purePhoneNumber: pure,
      countryCode,
      expiresAt: now() + ttlMs,
      used: false,
      fault: body.fault,
    });
    return { code, phoneNumber, purePhoneNumber: pure, countryCode };
  });
}
