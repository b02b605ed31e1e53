import { LOGIN, LOGOUT, ME, codeOf, startServer, type TestServer } from '../support/server';
import { SecretWatch } from '../support/secrets';
import { freshDatabase, onServices, target } from '../support/target';

describe('login and sessions', () => {
  let t: TestServer;
  const secrets = new SecretWatch();

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when this project targets services, then the server really runs on MariaDB and Redis', () => {
    expect(t.server.config.database.kind).toBe(onServices ? 'mysql' : 'libsql');
    expect(t.server.cache.kind).toBe(onServices ? 'redis' : 'memory');
  });

  it('when a fresh code is exchanged, then a token, expiry and user come back and me answers with that user', async () => {
    const { code, openid } = await t.sim.loginCode({ unionid: 'oUnion_login_1' });
    const before = Date.now();
    const res = await t.gql<{
      login: { token: string; expiresAt: string; user: { id: string; openid: string; unionid: string } };
    }>(LOGIN, { code });
    expect(res.errors).toBeUndefined();
    const { token, expiresAt, user } = res.data!.login;
    await secrets.watchToken(t, token);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(user.openid).toBe(openid);
    expect(user.unionid).toBe('oUnion_login_1');
    const ttlMs = new Date(expiresAt).getTime() - before;
    expect(ttlMs).toBeGreaterThan(604800 * 1000 - 60_000);
    expect(ttlMs).toBeLessThanOrEqual(604800 * 1000 + 60_000);

    const me = await t.gql<{ me: { id: string; openid: string } }>(ME, {}, token);
    expect(me.data?.me).toMatchObject({ id: user.id, openid });
    expect(me.text).not.toMatch(/session_?key/i);
  });

  it('when the same code is used twice, then the second login is WECHAT_CODE_INVALID', async () => {
    const { code } = await t.sim.loginCode();
    const first = await t.gql<{ login: { token: string } }>(LOGIN, { code });
    await secrets.watchToken(t, first.data!.login.token);
    const second = await t.gql(LOGIN, { code });
    expect(codeOf(second)).toBe('WECHAT_CODE_INVALID');
    expect(second.data).toBeNull();
  });

  it('when the code is unknown, then WECHAT_CODE_INVALID', async () => {
    expect(codeOf(await t.gql(LOGIN, { code: 'nonexistentcode0000000000000000' }))).toBe('WECHAT_CODE_INVALID');
  });

  it('when the code is empty, then BAD_USER_INPUT without a call to WeChat', async () => {
    expect(codeOf(await t.gql(LOGIN, { code: '' }))).toBe('BAD_USER_INPUT');
  });

  it.each([
    [{ errcode: 45011 }, 'WECHAT_RATE_LIMITED'],
    [{ errcode: 40226 }, 'WECHAT_RISKY_USER'],
    [{ errcode: -1 }, 'WECHAT_UNAVAILABLE'],
    [{ garbage: true }, 'WECHAT_UNAVAILABLE'],
    [{ httpStatus: 502 }, 'WECHAT_UNAVAILABLE'],
  ])('when WeChat answers with fault %j, then %s and the server stays up', async (fault, expected) => {
    const { code } = await t.sim.loginCode({ fault });
    const res = await t.gql(LOGIN, { code });
    expect(codeOf(res)).toBe(expected);
    expect(res.data).toBeNull();
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it.each([
    ['missing', undefined],
    ['garbage', 'garbage-token'],
    ['well-formed but unknown', 'A'.repeat(43)],
  ])('when the token is %s, then me is UNAUTHENTICATED', async (_name, token) => {
    const res = await t.gql(ME, {}, token);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });

  it('when the user logs out, then that token is UNAUTHENTICATED and another session of the user still works', async () => {
    const a = await t.login();
    const b = await t.login(a.openid);
    await secrets.watchToken(t, a.token);
    await secrets.watchToken(t, b.token);
    expect((await t.gql(LOGOUT, {}, a.token)).data).toEqual({ logout: true });
    expect(codeOf(await t.gql(ME, {}, a.token))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(LOGOUT, {}, a.token))).toBe('UNAUTHENTICATED');
    expect((await t.gql<{ me: { openid: string } }>(ME, {}, b.token)).data?.me.openid).toBe(a.openid);
  });

  it('when the token is sent in the Authorization header in another case or without Bearer, then only "Bearer <token>" counts', async () => {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    expect((await t.gql(ME, {}, undefined, { authorization: `bearer ${a.token}` })).data).not.toBeNull();
    expect(codeOf(await t.gql(ME, {}, undefined, { authorization: a.token }))).toBe('UNAUTHENTICATED');
  });

  it('when the store holds the session, then it is keyed by a hash and holds no raw token', async () => {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    const session = await t.server.services.sessions.load(a.token);
    expect(session).toMatchObject({ openid: a.openid, userId: Number(a.userId) });
    expect(await t.server.cache.get(a.token)).toBeUndefined();
    expect(await t.server.cache.get(`sess:${a.token}`)).toBeUndefined();
  });

  it('when 20 first logins of one new openid race, then exactly one user row exists and all get the same user', async () => {
    const openid = `oRace${Date.now()}`;
    const codes = await Promise.all(Array.from({ length: 20 }, () => t.sim.loginCode({ openid })));
    const results = await Promise.all(
      codes.map(({ code }) => t.gql<{ login: { token: string; user: { id: string } } }>(LOGIN, { code })),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.login.user.id)).size).toBe(1);
    const em = t.server.orm.em.fork();
    const rows = (await em.getConnection().execute('select count(*) as n from users where openid = ?', [openid])) as {
      n: number | string;
    }[];
    expect(Number(rows[0].n)).toBe(1);
    for (const r of results) await secrets.watchToken(t, r.data!.login.token);
  });

  describe('the user in the login payload', () => {
    const MINIMAL = `mutation Login($code: String!) { login(code: $code) { token user { id openid } } }`;
    const WITH_UNIONID = `mutation Login($code: String!) { login(code: $code) { token user { id openid unionid } } }`;
    const VIA_FRAGMENTS = `mutation Login($code: String!) { login(code: $code) { token ...P } }
      fragment P on LoginPayload { user { id ... on User { ...N } } }
      fragment N on User { nickname createdAt }`;
    type Payload = {
      login: {
        token: string;
        user: { id: string; openid?: string; unionid?: string | null; nickname?: string | null; createdAt?: string };
      };
    };
    const loginWith = async (query: string, codeOptions: Record<string, unknown>) => {
      const { code } = await t.sim.loginCode(codeOptions);
      const res = await t.gql<Payload>(query, { code });
      expect(res.errors).toBeUndefined();
      await secrets.watchToken(t, res.data!.login.token);
      return res.data!.login.user;
    };
    const setNickname = (openid: string, nickname: string) =>
      t.server.orm.em
        .fork()
        .getConnection()
        .execute('update users set nickname = ? where openid = ?', [nickname, openid]);

    it('when 20 first logins of one new openid race with the mini-program selection (id, openid), then one row and one id', async () => {
      const openid = `oRaceMin${Date.now()}`;
      const users = await Promise.all(Array.from({ length: 20 }, () => loginWith(MINIMAL, { openid })));
      expect(new Set(users.map((u) => u.id)).size).toBe(1);
      expect(users[0].openid).toBe(openid);
      const rows = (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select id from users where openid = ?', [openid])) as { id: number }[];
      expect(rows.map((r) => String(r.id))).toEqual([users[0].id]);
    });

    it('when a returning user logs in, then the id is the existing row and profile fields asked for (through fragments too) come from it', async () => {
      const openid = `oBack${Date.now()}`;
      const first = await loginWith(MINIMAL, { openid });
      await setNickname(openid, '回来了🐱');
      const again = await loginWith(MINIMAL, { openid });
      expect(again).toEqual({ id: first.id, openid });
      const full = await loginWith(VIA_FRAGMENTS, { openid });
      expect(full.id).toBe(first.id);
      expect(full.nickname).toBe('回来了🐱');
      expect(Number.isNaN(Date.parse(full.createdAt!))).toBe(false);
    });

    it('when WeChat sends a unionid, then login stores it and answers it; without one, the stored unionid is answered', async () => {
      const openid = `oUnion${Date.now()}`;
      expect((await loginWith(WITH_UNIONID, { openid })).unionid).toBeNull();
      expect((await loginWith(WITH_UNIONID, { openid, unionid: 'oUnionAAA' })).unionid).toBe('oUnionAAA');
      expect((await loginWith(WITH_UNIONID, { openid })).unionid).toBe('oUnionAAA');
      expect((await loginWith(WITH_UNIONID, { openid, unionid: 'oUnionBBB' })).unionid).toBe('oUnionBBB');
      const rows = (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select unionid from users where openid = ?', [openid])) as { unionid: string | null }[];
      expect(rows[0].unionid).toBe('oUnionBBB');
    });
  });

  it('when the suite is done, then no response body or log line carried a session_key', () => {
    expect(secrets.size).toBeGreaterThan(10);
    expect(secrets.leaks(t)).toEqual([]);
  });
});

describe('a WeChat that answers too slowly', () => {
  it('when jscode2session outlasts WECHAT_TIMEOUT_MS, then WECHAT_UNAVAILABLE, the log names the cause, and the server stays up', async () => {
    // 2 s rather than the default 5 s keeps this quick, and still leaves the well-behaved login below room on a
    // loaded machine. The simulator stops its delay as soon as the caller hangs up.
    const t = await startServer({ env: { WECHAT_TIMEOUT_MS: '2000' } });
    try {
      const { code } = await t.sim.loginCode({ fault: { delayMs: 60_000 } });
      const res = await t.gql(LOGIN, { code });
      expect(codeOf(res)).toBe('WECHAT_UNAVAILABLE');
      expect(t.logs.some((l) => l.includes('jscode2session timed out after 2000 ms'))).toBe(true);
      expect(res.text).not.toContain('timed out');
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
      // The next, well-behaved login works.
      await t.login();
    } finally {
      await t.close();
    }
  });
});

describe('session expiry', () => {
  it('when the TTL has passed, then the token is UNAUTHENTICATED', async () => {
    // 3 s: the first ME must land inside the TTL even on a loaded machine.
    const t = await startServer({ env: { SESSION_TTL_SECONDS: '3' } });
    try {
      const a = await t.login();
      expect((await t.gql(ME, {}, a.token)).data).not.toBeNull();
      await new Promise((r) => setTimeout(r, 3500));
      expect(codeOf(await t.gql(ME, {}, a.token))).toBe('UNAUTHENTICATED');
    } finally {
      await t.close();
    }
  });
});

describe('two servers on one database and store', () => {
  it('when one instance issued a token, then the other accepts it', async () => {
    const db = await freshDatabase();
    const a = await startServer({ database: db });
    const b = await startServer({ database: db, env: { MIGRATE_ON_START: '0' } });
    try {
      const { token, openid } = await a.login();
      const me = await b.gql<{ me: { openid: string } }>(ME, {}, token);
      if (onServices) expect(me.data?.me.openid).toBe(openid);
      // Without Redis each process has its own in-memory store, which is why production needs REDIS_URL.
      else expect(codeOf(me)).toBe('UNAUTHENTICATED');
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});

if (target.kind === 'services') {
  describe('MariaDB connection', () => {
    it('when the server connected, then the connection charset is utf8mb4', async () => {
      const t = await startServer();
      try {
        const rows = (await t.server.orm.em
          .fork()
          .getConnection()
          .execute("show variables like 'character_set_connection'")) as { Value: string }[];
        expect(rows[0].Value).toBe('utf8mb4');
      } finally {
        await t.close();
      }
    });
  });
}
