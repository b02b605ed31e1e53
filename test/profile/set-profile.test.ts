import { SIMULATOR_PREFIX } from '../../src/app';
import { LOGIN, codeOf, startServer, type GqlResult, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { redisNamespace } from '../support/target';
import { TcpProxy } from '../support/tcp-proxy';
import { timed } from '../support/eventually';

const SET = `mutation Set($nickname: String, $avatarUrl: String) { setProfile(nickname: $nickname, avatarUrl: $avatarUrl) { id nickname } }`;
const ME = `query { me { id nickname } }`;

/** 4-byte emoji (U+1F431, U+1F44D) and a ZWJ sequence (U+1F468 U+200D U+1F469): utf8mb4 or nothing. */
const EMOJI_NICK = '小明🐱👍👨‍👩';
const EMOJI_HEX = Buffer.from(EMOJI_NICK, 'utf8').toString('hex').toUpperCase();

const devPost = async <T>(base: string, path: string, body: unknown = {}): Promise<T> => {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};
const checkCalls = async (base: string) =>
  ((await (await fetch(`${base}/dev/msg-sec-check`)).json()) as { calls: number }).calls;
const tokenCalls = async (base: string) =>
  ((await (await fetch(`${base}/dev/stable-token`)).json()) as { calls: number }).calls;

let namespaces = 0;
/** Each server gets a Redis namespace of its own, so a token cached by another suite's simulator is never met. */
const ownNamespace = () => ({ REDIS_NAMESPACE: `${redisNamespace}.setprofile${(namespaces += 1)}` });

type Nick = { id: string; nickname: string | null };

describe('setProfile(nickname)', () => {
  let t: TestServer;
  let sim: string;
  /** Every nickname a test sent: none may appear in an error message. */
  const sent: string[] = [];

  beforeAll(async () => {
    t = await startServer({ env: ownNamespace() });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterAll(async () => {
    // What users typed is theirs: no log line carries a nickname (the ones distinctive enough to search for).
    const logs = t.logs.join('\n');
    for (const n of [EMOJI_NICK, '我爱赌博', 'RiskyWord99', '加微信abc', 'after revoke']) expect(logs).not.toContain(n);
    await t?.close();
  });

  const set = (vars: { nickname?: string | null; avatarUrl?: string }, token?: string) => {
    if (vars.nickname?.trim()) sent.push(vars.nickname.trim());
    return t.gql<{ setProfile: Nick }>(SET, vars, token);
  };
  const me = async (token: string) => (await t.gql<{ me: Nick }>(ME, {}, token)).data!.me;
  const storedHex = async (userId: string) => {
    const rows = (await t.server.orm.em
      .fork()
      .getConnection()
      .execute('select hex(nickname) as h from users where id = ?', [Number(userId)])) as { h: string | null }[];
    return rows[0].h;
  };
  /** No error message carries a nickname that was sent. */
  const expectNoNickname = (res: GqlResult) => {
    expect(res.errors).toBeDefined();
    for (const n of sent) for (const e of res.errors!) expect(e.message).not.toContain(n);
  };

  it('when a clean nickname with emoji is set, then it is checked once, stored trimmed byte for byte, and me shows it', async () => {
    const a = await t.login();
    const before = await checkCalls(sim);
    const res = await set({ nickname: `  ${EMOJI_NICK}\t` }, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.setProfile).toEqual({ id: a.userId, nickname: EMOJI_NICK });
    expect(await checkCalls(sim)).toBe(before + 1);
    expect(await me(a.token)).toEqual({ id: a.userId, nickname: EMOJI_NICK });
    expect(await storedHex(a.userId)).toBe(EMOJI_HEX);
  });

  it('when the nickname is exactly 32 characters of emoji, then it is stored whole', async () => {
    const a = await t.login();
    const nickname = '😀'.repeat(32);
    const res = await set({ nickname }, a.token);
    expect(res.errors).toBeUndefined();
    expect((await me(a.token)).nickname).toBe(nickname);
  });

  it.each([
    ['a risky word', '我爱赌博', 'risky', 20006],
    ['a fraud word, in ASCII capitals', 'RiskyWord99', 'risky', 20012],
    ['an ad WeChat wants reviewed', '加微信abc', 'review', 10001],
    // The simulator, like WeChat, passes content sent as \uXXXX escapes: these refusals also show the server sends raw UTF-8.
  ])(
    "when the nickname holds %s, then CONTENT_RISKY with WeChat's label, and nothing is stored",
    async (_what, nickname, suggest, label) => {
      const a = await t.login();
      expect((await set({ nickname: 'before' }, a.token)).errors).toBeUndefined();
      const res = await set({ nickname }, a.token);
      expect(codeOf(res)).toBe('CONTENT_RISKY');
      expect(res.data).toBeNull();
      expect(res.errors![0].extensions).toMatchObject({ field: 'nickname', suggest, label });
      expect(res.errors![0].extensions!.traceId).toEqual(expect.any(String));
      expectNoNickname(res);
      expect((await me(a.token)).nickname).toBe('before');
    },
  );

  it.each([
    ['empty', ''],
    ['whitespace only', ' \t\u3000 '],
    ['33 characters', 'a'.repeat(33)],
    ['33 emoji', '🐱'.repeat(33)],
    ['a control character', 'ab\u0007cd'],
  ])(
    'when the nickname is %s, then BAD_USER_INPUT naming the field, and WeChat is not asked',
    async (_what, nickname) => {
      const a = await t.login();
      const before = await checkCalls(sim);
      const res = await set({ nickname }, a.token);
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].extensions).toMatchObject({ field: 'nickname' });
      if (nickname.trim()) expectNoNickname(res);
      expect(await checkCalls(sim)).toBe(before);
      expect((await me(a.token)).nickname).toBeNull();
    },
  );

  it('when no argument or an avatarUrl that is not ours is given, then BAD_USER_INPUT naming the field, and WeChat is not asked', async () => {
    const a = await t.login();
    const before = await checkCalls(sim);
    const none = await set({ nickname: null }, a.token);
    expect(codeOf(none)).toBe('BAD_USER_INPUT');
    expect(none.errors![0].extensions).toMatchObject({ field: 'nickname' });
    const avatar = await set({ nickname: 'fine', avatarUrl: 'https://example.com/a.png' }, a.token);
    expect(codeOf(avatar)).toBe('BAD_USER_INPUT');
    expect(avatar.errors![0].message).toBe('avatarUrl must be a URL that POST /avatar answered to you.');
    expect(avatar.errors![0].extensions).toMatchObject({ field: 'avatarUrl' });
    expect(await checkCalls(sim)).toBe(before);
    expect((await me(a.token)).nickname).toBeNull();
  });

  it('when the request has no valid token, then UNAUTHENTICATED and WeChat is not asked', async () => {
    const before = await checkCalls(sim);
    for (const token of [undefined, 'not-a-token']) {
      const res = await set({ nickname: 'anyone' }, token);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
      expect(res.data).toBeNull();
    }
    expect(await checkCalls(sim)).toBe(before);
  });

  it('when WeChat revoked the access_token, then one stable_token call replaces it and the nickname is stored', async () => {
    const a = await t.login();
    expect((await set({ nickname: 'warm' }, a.token)).errors).toBeUndefined();
    const [tokensBefore, checksBefore] = [await tokenCalls(sim), await checkCalls(sim)];
    const logsBefore = t.logs.length;
    await devPost(sim, '/dev/stable-token/revoke');
    const res = await set({ nickname: 'after revoke' }, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.setProfile.nickname).toBe('after revoke');
    expect(await tokenCalls(sim)).toBe(tokensBefore + 1);
    // The refused call and its retry.
    expect(await checkCalls(sim)).toBe(checksBefore + 2);
    const refused = t.logs.slice(logsBefore).filter((l) => l.includes('access_token refused by an API'));
    expect(refused.map((l) => JSON.parse(l) as { api: string; wechatErrcode: number })).toMatchObject([
      { api: 'msg_sec_check', wechatErrcode: 40001 },
    ]);
    expect((await me(a.token)).nickname).toBe('after revoke');
  });

  it.each([
    ['busy (-1)', 'WECHAT_UNAVAILABLE', { errcode: -1 }],
    ['a 502', 'WECHAT_UNAVAILABLE', { httpStatus: 502 }],
    ['not JSON', 'WECHAT_UNAVAILABLE', { garbage: true }],
    ['rate limiting (45011)', 'WECHAT_RATE_LIMITED', { errcode: 45011 }],
    ['a user not seen for 2 hours (61010)', 'WECHAT_UNAVAILABLE', { errcode: 61010 }],
  ])(
    'when WeChat answers %s, then %s naming msg_sec_check, nothing stored, and the next set works',
    async (_what, code, fault) => {
      const a = await t.login();
      await devPost(sim, '/dev/msg-sec-check/fault', fault);
      const res = await set({ nickname: 'faulted' }, a.token);
      expect(codeOf(res)).toBe(code);
      expect(res.errors![0].extensions).toMatchObject({ api: 'msg_sec_check' });
      expectNoNickname(res);
      expect((await me(a.token)).nickname).toBeNull();
      const again = await set({ nickname: 'recovered' }, a.token);
      expect(again.errors).toBeUndefined();
      expect((await me(a.token)).nickname).toBe('recovered');
    },
  );

  it('when checks pass and fail, then wechat_calls_total counts msg_sec_check by outcome', async () => {
    const count = async (outcome: string) =>
      (await t.server.metrics.wechatCalls.get()).values.find(
        (v) => v.labels.api === 'msg_sec_check' && v.labels.outcome === outcome,
      )?.value ?? 0;
    const [ok, unavailable] = [await count('ok'), await count('WECHAT_UNAVAILABLE')];
    const a = await t.login();
    await set({ nickname: 'counted' }, a.token);
    await devPost(sim, '/dev/msg-sec-check/fault', { errcode: -1 });
    await set({ nickname: 'counted' }, a.token);
    expect([await count('ok'), await count('WECHAT_UNAVAILABLE')]).toEqual([ok + 1, unavailable + 1]);
  });

  it('when the same session sets the nickname again, then the newest one is stored', async () => {
    const a = await t.login();
    expect((await set({ nickname: 'first' }, a.token)).errors).toBeUndefined();
    expect((await set({ nickname: 'second' }, a.token)).data!.setProfile.nickname).toBe('second');
    expect((await me(a.token)).nickname).toBe('second');
  });
});

describe('setProfile with WeChat unreachable', () => {
  // Generous on purpose (CI is loaded): a frozen call must answer before WeChat's deadline plus this margin.
  const WECHAT_TIMEOUT_MS = 1500;
  const WITHIN_MS = WECHAT_TIMEOUT_MS + 3000;

  it('when the path to WeChat freezes, then WECHAT_UNAVAILABLE within the bound, nothing stored, and a set works again after thaw', async () => {
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
    try {
      const { code } = await sim.loginCode();
      const login = await t.gql<{ login: { token: string } }>(LOGIN, { code });
      const { token } = login.data!.login;
      const setWith = (nickname: string) => timed(() => t.gql<{ setProfile: Nick }>(SET, { nickname }, token));
      const meNick = async () => (await t.gql<{ me: Nick }>(ME, {}, token)).data!.me.nickname;

      // Warm the token, then msg_sec_check hangs.
      const ok = await setWith('stored');
      expect(ok.result.errors).toBeUndefined();
      proxy.freeze();
      const frozen = await setWith('frozen');
      expect(codeOf(frozen.result)).toBe('WECHAT_UNAVAILABLE');
      expect(frozen.result.errors![0].extensions).toMatchObject({ api: 'msg_sec_check' });
      expect(frozen.result.errors![0].message).not.toContain('frozen');
      expect(frozen.ms).toBeLessThan(WITHIN_MS);
      proxy.thaw();
      expect(await meNick()).toBe('stored');

      const again = await setWith('thawed');
      expect(again.result.errors).toBeUndefined();
      expect(await meNick()).toBe('thawed');
    } finally {
      await proxy.stop();
      await t.close();
      await sim.close();
    }
  });
});
