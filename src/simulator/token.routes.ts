import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { rid } from './state';

/** A stable_token lives two hours; WeChat rotates it 5 minutes before expiry, and both work for those 5 minutes. */
export const TOKEN_LIFETIME_S = 7200;
export const ROTATE_AHEAD_S = 300;
/** force_refresh: at most 20 a day, at least 30 s apart. */
export const FORCE_REFRESH_PER_DAY = 20;
export const FORCE_REFRESH_SPACING_MS = 30_000;
const DAY_MS = 24 * 60 * 60 * 1000;

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40013: 'invalid appid',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
};

interface Issued {
  value: string;
  expiresAt: number;
  /** Killed by a force_refresh (or /dev/stable-token/revoke): answers 40001 from then on. */
  killed: boolean;
}

/**
 * The simulated platform's access_tokens, with stable_token's semantics: one current token per app, handed out
 * with its remaining lifetime; rotated 5 minutes before expiry (the old one keeps working until its own expiry);
 * force_refresh kills every live token and is rate-limited. Every API that takes an access_token checks it here.
 */
export class StableTokens {
  private readonly issued = new Map<string, Issued>();
  private current?: Issued;
  private forced: number[] = [];
  private faults: number[] = [];
  /** Every POST /cgi-bin/stable_token, whatever it answered: what the tests count. */
  calls = 0;
  minted = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The answer to one stable_token call that passed the appid/secret checks. */
  stable(forceRefresh: boolean): { accessToken: string; expiresIn: number } | { errcode: number } {
    const fault = this.faults.shift();
    if (fault !== undefined) return { errcode: fault };
    const now = this.now();
    if (forceRefresh) {
      this.forced = this.forced.filter((at) => at > now - DAY_MS);
      const last = this.forced.at(-1);
      if (last !== undefined && now - last < FORCE_REFRESH_SPACING_MS) return { errcode: 45011 };
      if (this.forced.length >= FORCE_REFRESH_PER_DAY) return { errcode: 45009 };
      this.forced.push(now);
      this.killAll();
    }
    const current = this.current;
    if (!current || current.killed || current.expiresAt - now <= ROTATE_AHEAD_S * 1000) this.mint();
    const token = this.current!;
    return { accessToken: token.value, expiresIn: Math.floor((token.expiresAt - now) / 1000) };
  }

  /** What an API answers for this access_token: 0 when it is good. */
  check(accessToken: string | undefined): 0 | 40001 | 41001 | 42001 {
    if (!accessToken) return 41001;
    const token = this.issued.get(accessToken);
    if (!token || token.killed) return 40001;
    if (token.expiresAt <= this.now()) return 42001;
    return 0;
  }

  /** Every live token expires now (42001); the next stable_token call mints a new one. */
  expire() {
    const now = this.now();
    for (const token of this.issued.values()) if (token.expiresAt > now) token.expiresAt = now;
  }

  /** Every live token is killed (40001), as a force_refresh by someone else would; the next call mints a new one. */
  revoke() {
    this.killAll();
  }

  /** Time passes for the live tokens: each one's remaining lifetime shrinks by `seconds`. */
  age(seconds: number) {
    for (const token of this.issued.values()) token.expiresAt -= seconds * 1000;
  }

  /** The next stable_token calls answer these errcodes, one each, in order. */
  fail(errcodes: number[]) {
    this.faults.push(...errcodes);
  }

  private killAll() {
    for (const token of this.issued.values()) token.killed = true;
    this.current = undefined;
  }

  private mint() {
    const now = this.now();
    // Long expired tokens are forgotten (then answer 40001 like any unknown one), so the map stays small.
    for (const [value, token] of this.issued) if (token.expiresAt < now - DAY_MS) this.issued.delete(value);
    this.minted += 1;
    // Shaped like WeChat's: a numeric prefix, an underscore and ~130 url-safe characters.
    const token: Issued = {
      value: `${90 + (this.minted % 10)}_${randomBytes(96).toString('base64url')}`,
      expiresAt: now + TOKEN_LIFETIME_S * 1000,
      killed: false,
    };
    this.issued.set(token.value, token);
    this.current = token;
  }
}

function wechatJson(reply: FastifyReply, body: object) {
  return reply.header('content-type', 'application/json; encoding=utf-8').send(JSON.stringify(body));
}

function wechatError(reply: FastifyReply, errcode: number) {
  return wechatJson(reply, { errcode, errmsg: `${ERRMSG[errcode] ?? 'error'} rid: ${rid()}` });
}

export interface SimulatorTokenOptions {
  appid: string;
  secret: string;
}

/**
 * POST /cgi-bin/stable_token as WeChat serves it, an API that checks the token (get_api_domain_ip), and /dev
 * endpoints to count calls and to expire, revoke, age or fail the tokens. Never GET /cgi-bin/token: it is the call
 * that knocks every other instance's token out. Answers the tokens, for the other routes that check them.
 */
export function registerTokenRoutes(app: FastifyInstance, opts: SimulatorTokenOptions): StableTokens {
  const tokens = new StableTokens();

  app.post<{ Body: Record<string, unknown> | undefined }>('/cgi-bin/stable_token', async (req, reply) => {
    tokens.calls += 1;
    const { grant_type: grantType, appid, secret, force_refresh: forceRefresh } = req.body ?? {};
    if (!appid) return wechatError(reply, 41002);
    if (!secret) return wechatError(reply, 41004);
    if (grantType !== 'client_credential') return wechatError(reply, 40002);
    if (appid !== opts.appid) return wechatError(reply, 40013);
    if (secret !== opts.secret) return wechatError(reply, 40125);
    const answer = tokens.stable(forceRefresh === true);
    if ('errcode' in answer) return wechatError(reply, answer.errcode);
    return wechatJson(reply, { access_token: answer.accessToken, expires_in: answer.expiresIn });
  });
  app.get('/cgi-bin/stable_token', async (_req, reply) => wechatError(reply, 43002));

  /** getApiDomainIp: the cheapest API that takes an access_token, for checking one. */
  app.get<{ Querystring: { access_token?: string } }>('/cgi-bin/get_api_domain_ip', async (req, reply) => {
    const errcode = tokens.check(req.query.access_token);
    if (errcode) return wechatError(reply, errcode);
    return wechatJson(reply, { ip_list: ['101.89.47.18', '101.91.34.103'] });
  });

  /** Developer endpoint: how many stable_token calls the simulator served, and how many tokens it minted. */
  app.get('/dev/stable-token', async () => ({ calls: tokens.calls, minted: tokens.minted }));
  app.post('/dev/stable-token/expire', async () => {
    tokens.expire();
    return { ok: true };
  });
  app.post('/dev/stable-token/revoke', async () => {
    tokens.revoke();
    return { ok: true };
  });
  app.post<{ Body: { seconds?: unknown } | undefined }>('/dev/stable-token/age', async (req, reply) => {
    const seconds = req.body?.seconds;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
      return reply.code(400).send({ error: 'seconds must be a number >= 0' });
    tokens.age(seconds);
    return { ok: true };
  });
  app.post<{ Body: { errcodes?: unknown } | undefined }>('/dev/stable-token/fail', async (req, reply) => {
    const errcodes = req.body?.errcodes;
    if (!Array.isArray(errcodes) || !errcodes.every((e) => Number.isInteger(e)))
      return reply.code(400).send({ error: 'errcodes must be an array of integers' });
    tokens.fail(errcodes as number[]);
    return { ok: true };
  });
  return tokens;
}
