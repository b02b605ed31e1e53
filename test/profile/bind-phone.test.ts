import { SIMULATOR_PREFIX } from '../../src/app';
import { LOGIN, codeOf, startServer, type GqlResult, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { describeServices, freshDatabase, redisNamespace } from '../support/target';
import { TcpProxy } from '../support/tcp-proxy';
import { timed } from '../support/eventually';

const BIND = `mutation Bind($code: String!) { bindPhoneNumber(code: $code) { id openid phoneNumber phoneCountryCode } }`;
const ME_PHONE = `query { me { id phoneNumber phoneCountryCode } }`;

type Phone = { phoneNumber: string | null; phoneCountryCode: string | null };
type PhoneCode = { code: string; phoneNumber: string; purePhoneNumber: string; countryCode: string };

const devPost = async <T>(base: string, path: string, body: unknown = {}): Promise<T> => {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};
const tokenCalls = async (base: string) =>
  ((await (await fetch(`${base}/dev/stable-token`)).json()) as { calls: number }).calls;

let namespaces = 0;
/** Each server gets a Redis namespace of its own, so a token cached by another suite's simulator is never met. */
const ownNamespace = () => ({ REDIS_NAMESPACE: `${redisNamespace}.phone${(namespaces += 1)}` });

/** Every phone number a test minted: none may reach a log line or an error. */
function expectNoNumbers(text: string, numbers: string[]) {
  expect(numbers.length).toBeGreaterThan(0);
  for (const n of numbers) expect(text).not.toContain(n);
}

describe('bindPhoneNumber', () => {
  let t: TestServer;
  let sim: string;
  const minted: string[] = [];

  beforeAll(async () => {
    t = await startServer({ env: ownNamespace() });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterAll(async () => {
    // The numbers are personal data: not in any log line, and not in any answer but a successful bind's or me's.
    expectNoNumbers(t.logs.join('\n'), minted);
    await t?.close();
  });

  /** The getPhoneNumber button on the phone: a one-time code for this openid's number. */
  const phoneCode = async (body: Record<string, unknown>) => {
    const minted_ = await devPost<PhoneCode>(sim, '/dev/phone-code', body);
    minted.push(minted_.purePhoneNumber);
    return minted_;
  };
  const bind = (code: string, token?: string) =>
    t.gql<{ bindPhoneNumber: Phone & { id: string } }>(BIND, { code }, token);
  const me = async (token: string) => (await t.gql<{ me: Phone }>(ME_PHONE, {}, token)).data!.me;

  it('when a user binds a phone code, then the answer and me carry the number WeChat gave, and later binds replace it', async () => {
    const a = await t.login();
    expect(await me(a.token)).toEqual({ id: a.userId, phoneNumber: null, phoneCountryCode: null });
    const china = await phoneCode({ openid: a.openid, purePhoneNumber: '13800138000' });
    const res = await bind(china.code, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.bindPhoneNumber).toEqual({
      id: a.userId,
      openid: a.openid,
      phoneNumber: '13800138000',
      phoneCountryCode: '86',
    });
    expect(await me(a.token)).toEqual({ id: a.userId, phoneNumber: '13800138000', phoneCountryCode: '86' });

    // Outside China WeChat puts the country code in phoneNumber; it is stored as given.
    const us = await phoneCode({ openid: a.openid, purePhoneNumber: '2025550123', countryCode: '1' });
    expect((await bind(us.code, a.token)).data!.bindPhoneNumber).toMatchObject({
      phoneNumber: '+1 2025550123',
      phoneCountryCode: '1',
    });
    expect(await me(a.token)).toEqual({ id: a.userId, phoneNumber: '+1 2025550123', phoneCountryCode: '1' });
  });

  it('when a code is used again, then WECHAT_CODE_INVALID, and the number bound with it stays', async () => {
    const a = await t.login();
    const { code } = await phoneCode({ openid: a.openid, purePhoneNumber: '13900000001' });
    expect((await bind(code, a.token)).errors).toBeUndefined();
    const again = await bind(code, a.token);
    expect(codeOf(again)).toBe('WECHAT_CODE_INVALID');
    expect(again.errors![0].message).toMatch(/phone code/);
    expect(again.errors![0].extensions).toMatchObject({ api: 'getuserphonenumber', wechatErrcode: 40029 });
    expect(again.data).toBeNull();
    expect(await me(a.token)).toMatchObject({ phoneNumber: '13900000001' });
  });

  it.each([
    ['expired', async (openid: string) => (await phoneCode({ openid, ttlMs: 0 })).code],
    ['unknown', async () => 'f'.repeat(48)],
    ['another user’s', async () => (await phoneCode({ openid: 'oSomeoneElse_000000000000000' })).code],
    ['a wx.login code sent by mistake', async () => (await t.sim.loginCode()).code],
  ])('when the code is %s, then WECHAT_CODE_INVALID and nothing is stored', async (_what, codeFor) => {
    const a = await t.login();
    const res = await bind(await codeFor(a.openid), a.token);
    expect(codeOf(res)).toBe('WECHAT_CODE_INVALID');
    expect(res.data).toBeNull();
    expect(await me(a.token)).toMatchObject({ phoneNumber: null, phoneCountryCode: null });
  });

  it('when the code is not a code (empty, whitespace, too long), then BAD_USER_INPUT', async () => {
    const a = await t.login();
    for (const code of ['', 'a b', 'x'.repeat(257)]) {
      const res = await bind(code, a.token);
      expect([code.slice(0, 8), codeOf(res)]).toEqual([code.slice(0, 8), 'BAD_USER_INPUT']);
    }
  });

  it('when the request has no valid token, then UNAUTHENTICATED and the code is not spent', async () => {
    const a = await t.login();
    const { code } = await phoneCode({ openid: a.openid, purePhoneNumber: '13900000002' });
    for (const token of [undefined, 'not-a-token']) {
      const res = await bind(code, token);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
      expect(res.data).toBeNull();
    }
    expect((await bind(code, a.token)).data!.bindPhoneNumber).toMatchObject({ phoneNumber: '13900000002' });
  });

  it.each([
    ['revoked', 'revoke', 40001],
    ['expired', 'expire', 42001],
  ])(
    'when WeChat %s the access_token, then one stable_token call replaces it and the bind succeeds',
    async (_what, action, errcode) => {
      const a = await t.login();
      const warm = await phoneCode({ openid: a.openid });
      expect((await bind(warm.code, a.token)).errors).toBeUndefined();
      const before = await tokenCalls(sim);
      const logsBefore = t.logs.length;
      await devPost(sim, `/dev/stable-token/${action}`);
      const { code } = await phoneCode({ openid: a.openid, purePhoneNumber: '13900000003' });
      const res = await bind(code, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.bindPhoneNumber).toMatchObject({ phoneNumber: '13900000003' });
      expect(await tokenCalls(sim)).toBe(before + 1);
      const refused = t.logs.slice(logsBefore).filter((l) => l.includes('access_token refused by an API'));
      expect(refused.map((l) => JSON.parse(l) as { api: string; wechatErrcode: number })).toMatchObject([
        { api: 'getuserphonenumber', wechatErrcode: errcode },
      ]);
      // And the new token is kept: the next bind makes no call.
      const next = await phoneCode({ openid: a.openid });
      expect((await bind(next.code, a.token)).errors).toBeUndefined();
      expect(await tokenCalls(sim)).toBe(before + 1);
    },
  );

  it.each([
    ['busy (-1)', { errcode: -1 }],
    ['a 502', { httpStatus: 502 }],
    ['not JSON', { garbage: true }],
    ['rate limiting (45011)', { errcode: 45011 }],
    ['a number for another AppID', { appid: 'wx0000000000000000' }],
  ])('when WeChat answers %s, then an error a client can act on, and nothing is stored', async (what, fault) => {
    const a = await t.login();
    const { code } = await phoneCode({ openid: a.openid, fault });
    const res = await bind(code, a.token);
    expect(codeOf(res)).toBe(what.startsWith('rate') ? 'WECHAT_RATE_LIMITED' : 'WECHAT_UNAVAILABLE');
    expect(res.errors![0].extensions).toMatchObject({ api: 'getuserphonenumber' });
    expect(res.data).toBeNull();
    expect(await me(a.token)).toMatchObject({ phoneNumber: null, phoneCountryCode: null });
  });

  it('when binds succeed and fail, then wechat_calls_total counts getuserphonenumber by outcome', async () => {
    const count = async (outcome: string) =>
      (await t.server.metrics.wechatCalls.get()).values.find(
        (v) => v.labels.api === 'getuserphonenumber' && v.labels.outcome === outcome,
      )?.value ?? 0;
    const [ok, invalid] = [await count('ok'), await count('WECHAT_CODE_INVALID')];
    const a = await t.login();
    const { code } = await phoneCode({ openid: a.openid });
    await bind(code, a.token);
    await bind(code, a.token);
    expect([await count('ok'), await count('WECHAT_CODE_INVALID')]).toEqual([ok + 1, invalid + 1]);
  });

  it('when the number is logged by anyone, then the logger redacts it', async () => {
    const a = await t.login();
    const { code, purePhoneNumber } = await phoneCode({ openid: a.openid });
    expect((await bind(code, a.token)).errors).toBeUndefined();
    t.server.logger.info({ phoneNumber: purePhoneNumber, phone_info: { purePhoneNumber } }, 'a careless line');
    const line = t.logs.find((l) => l.includes('a careless line'))!;
    expect(line).toContain('[redacted]');
    expect(line).not.toContain(purePhoneNumber);
  });
});

describe('bindPhoneNumber with WeChat unreachable', () => {
  // Generous on purpose (CI is loaded): a frozen call must answer before WeChat's deadline plus this margin.
  const WECHAT_TIMEOUT_MS = 1500;
  const WITHIN_MS = WECHAT_TIMEOUT_MS + 3000;

  it('when the path to WeChat freezes, then WECHAT_UNAVAILABLE within the bound, nothing stored, and a bind works again after thaw', async () => {
    const sim = await startStandaloneSimulator();
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(sim.base).port) });
    const port = await proxy.start();
    const t = await startServer({
      env: {
        ...sim.env(),
        ...ownNamespace(),
        WECHAT_API_BASE: `http://127.0.0.1:${port}`,
        WECHAT_TIMEOUT_MS: String(WECHAT_TIMEOUT_MS),
      },
    });
    const numbers: string[] = [];
    try {
      const { code: loginCode } = await sim.loginCode();
      const login = await t.gql<{ login: { token: string; user: { openid: string } } }>(LOGIN, { code: loginCode });
      const { token, user } = login.data!.login;
      const phoneCode = async () => {
        const minted = await devPost<PhoneCode>(sim.base, '/dev/phone-code', { openid: user.openid });
        numbers.push(minted.purePhoneNumber);
        return minted.code;
      };
      const bindWith = (code: string) => timed(() => t.gql<{ bindPhoneNumber: Phone }>(BIND, { code }, token));

      // Cold: the stable_token call itself hangs.
      proxy.freeze();
      const cold = await bindWith(await phoneCode());
      expectUnavailable(cold, 'stable_token');
      expect(cold.ms).toBeLessThan(WITHIN_MS);

      // Warm: the token is cached and getuserphonenumber hangs.
      proxy.thaw();
      const ok = await bindWith(await phoneCode());
      expect(ok.result.errors).toBeUndefined();
      const stored = ok.result.data!.bindPhoneNumber.phoneNumber;
      proxy.freeze();
      const warm = await bindWith(await phoneCode());
      expectUnavailable(warm, 'getuserphonenumber');
      expect(warm.ms).toBeLessThan(WITHIN_MS);
      proxy.thaw();
      const me = await t.gql<{ me: Phone }>(ME_PHONE, {}, token);
      expect(me.data!.me.phoneNumber).toBe(stored);

      const again = await bindWith(await phoneCode());
      expect(again.result.errors).toBeUndefined();
      expectNoNumbers(t.logs.join('\n'), numbers);
    } finally {
      await proxy.stop();
      await t.close();
      await sim.close();
    }
  });

  function expectUnavailable(r: { result: GqlResult }, api: string) {
    expect(codeOf(r.result)).toBe('WECHAT_UNAVAILABLE');
    expect(r.result.errors![0].extensions).toMatchObject({ api });
    expect(r.result.data).toBeNull();
  }
});

describeServices('bindPhoneNumber on two instances sharing Redis', () => {
  it('when 40 binds race over two instances after a cold start, then one stable_token call serves them all', async () => {
    const sim = await startStandaloneSimulator();
    const database = await freshDatabase();
    const env = { ...sim.env(), ...ownNamespace() };
    const [a, b] = [await startServer({ env, database }), await startServer({ env, database })];
    try {
      const users = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const t = i % 2 ? b : a;
          const { code, openid } = await sim.loginCode();
          const res = await t.gql<{ login: { token: string } }>(LOGIN, { code });
          return { t, openid, token: res.data!.login.token };
        }),
      );
      const codes = await Promise.all(
        users.map((u) => devPost<PhoneCode>(sim.base, '/dev/phone-code', { openid: u.openid })),
      );
      expect(await tokenCalls(sim.base)).toBe(0);
      const results = await Promise.all(
        users.map((u, i) => u.t.gql<{ bindPhoneNumber: Phone }>(BIND, { code: codes[i].code }, u.token)),
      );
      expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? r.data!.bindPhoneNumber.phoneNumber)).toEqual(
        codes.map((c) => c.phoneNumber),
      );
      expect(await tokenCalls(sim.base)).toBe(1);
      expectNoNumbers(
        [...a.logs, ...b.logs].join('\n'),
        codes.map((c) => c.purePhoneNumber),
      );
    } finally {
      await a.close();
      await b.close();
      await sim.close();
      await database.drop();
    }
  });
});
