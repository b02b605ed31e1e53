import { randomBytes } from 'node:crypto';
import { User } from '../../src/auth/user.entity';
import { ME, UPDATE_PROFILE, codeOf, startServer, type TestServer } from '../support/server';
import { SecretWatch } from '../support/secrets';
import { onServices } from '../support/target';

const EMOJI_NICK = '测试🐱👍';

describe('updateProfile', () => {
  let t: TestServer;
  const secrets = new SecretWatch();

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function loggedIn() {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    return a;
  }

  /** The users row as stored, every column: the tests compare it whole before and after. */
  const userRow = async (id: string) => {
    const rows = (await t.server.orm.em
      .fork()
      .getConnection()
      .execute('select * from users where id = ?', [Number(id)])) as Record<string, unknown>[];
    return rows[0];
  };

  it('when the whole flow runs, then me shows the decrypted profile and the emoji nickname round-trips', async () => {
    const a = await loggedIn();
    const profile = {
      nickName: EMOJI_NICK,
      avatarUrl: 'https://example.com/a.png',
      gender: 2,
      language: 'zh_CN',
      city: 'Guangzhou',
      province: 'Guangdong',
      country: 'China',
    };
    const sealed = await t.sim.userData({ openid: a.openid, profile });
    const res = await t.gql<{ updateProfile: Record<string, unknown> }>(UPDATE_PROFILE, sealed, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateProfile).toMatchObject({
      nickname: EMOJI_NICK,
      gender: 2,
      city: 'Guangzhou',
      country: 'China',
    });

    const me = await t.gql<{ me: Record<string, unknown> }>(ME, {}, a.token);
    expect(me.data!.me).toMatchObject({
      nickname: EMOJI_NICK,
      avatarUrl: 'https://example.com/a.png',
      gender: 2,
      language: 'zh_CN',
      city: 'Guangzhou',
      province: 'Guangdong',
      country: 'China',
    });
  });

  it('when a profile is stored, then the answer is the row as me reads it afterwards, updatedAt included', async () => {
    const a = await loggedIn();
    const sealed = await t.sim.userData({
      openid: a.openid,
      profile: { nickName: EMOJI_NICK, city: 'Shenzhen', gender: 1 },
    });
    const fields = 'id openid nickname city gender country unionid createdAt updatedAt';
    const res = await t.gql<{ updateProfile: Record<string, unknown> }>(
      `mutation U($iv: String!, $encryptedData: String!) { updateProfile(iv: $iv, encryptedData: $encryptedData) { ${fields} } }`,
      sealed,
      a.token,
    );
    expect(res.errors).toBeUndefined();
    const me = await t.gql<{ me: Record<string, unknown> }>(`query { me { ${fields} } }`, {}, a.token);
    expect(res.data!.updateProfile).toEqual(me.data!.me);
    expect(me.data!.me).toMatchObject({ nickname: EMOJI_NICK, city: 'Shenzhen', gender: 1, country: null });
  });

  it("when me is read, then its timestamps are the row's own, as the ORM reads them", async () => {
    const a = await loggedIn();
    const me = await t.gql<{ me: { createdAt: string; updatedAt: string } }>(
      'query { me { createdAt updatedAt } }',
      {},
      a.token,
    );
    const row = await t.server.orm.em.fork().findOneOrFail(User, { id: Number(a.userId) });
    expect(me.data!.me).toEqual({ createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() });
  });

  if (onServices) {
    it('when an emoji nickname is stored in MariaDB, then the bytes on disk are utf8mb4, byte for byte', async () => {
      const a = await loggedIn();
      const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: EMOJI_NICK } });
      await t.gql(UPDATE_PROFILE, sealed, a.token);
      const rows = (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select hex(nickname) as h from users where id = ?', [Number(a.userId)])) as { h: string }[];
      expect(rows[0].h).toBe('E6B58BE8AF95F09F90B1F09F918D');
    });
  }

  it('when the same profile is stored twice within one second, then both succeed (a row that matched but did not change is not a vanished row)', async () => {
    // updatedAt has whole seconds, so the second UPDATE usually changes nothing. updateProfile reads affectedRows as
    // "rows matched": true on MySQL because mysql2 connects with CLIENT_FOUND_ROWS, and for SQLite's changes(). A
    // driver that counted changed rows instead would make the second request UNAUTHENTICATED here.
    const a = await loggedIn();
    const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: 'same', city: "Xi'an" } });
    const first = await t.gql<{ updateProfile: { nickname: string } }>(UPDATE_PROFILE, sealed, a.token);
    const second = await t.gql<{ updateProfile: { nickname: string } }>(UPDATE_PROFILE, sealed, a.token);
    expect(first.errors).toBeUndefined();
    expect(second.errors).toBeUndefined();
    expect(second.data!.updateProfile.nickname).toBe('same');
  });

  if (onServices) {
    it('when the user row is deleted while the UPDATE waits for its lock, then UNAUTHENTICATED and no row comes back', async () => {
      const a = await loggedIn();
      const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: 'gone' } });
      const { createConnection } = await import('mysql2/promise');
      const url = t.server.config.database.url;
      const [deleter, watcher] = await Promise.all([createConnection(url), createConnection(url)]);
      try {
        // The DELETE holds the row's lock: updateProfile's SELECT (a consistent read) still sees the row, its UPDATE waits.
        await deleter.query('BEGIN');
        await deleter.query('DELETE FROM users WHERE id = ?', [Number(a.userId)]);
        const answer = t.gql(UPDATE_PROFILE, sealed, a.token);
        let waiting = false;
        for (let i = 0; i < 100 && !waiting; i++) {
          const [rows] = await watcher.query(
            "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE 'update `users`%' AND DB = DATABASE()",
          );
          waiting = (rows as unknown[]).length > 0;
          if (!waiting) await new Promise((r) => setTimeout(r, 50));
        }
        expect(waiting).toBe(true);
        await deleter.query('COMMIT');
        const res = await answer;
        expect(codeOf(res)).toBe('UNAUTHENTICATED');
        // No profile is answered as if it had been stored.
        expect(res.data?.updateProfile ?? null).toBeNull();
        expect(await userRow(a.userId)).toBeUndefined();
      } finally {
        await Promise.all([deleter.end(), watcher.end()]);
      }
    });
  }

  it('when the login carried a unionid, then updateProfile answers it', async () => {
    const { code, openid } = await t.sim.loginCode({ unionid: 'oUnionProfile_1' });
    const login = await t.gql<{ login: { token: string } }>(`mutation($code:String!){login(code:$code){token}}`, {
      code,
    });
    const token = login.data!.login.token;
    await secrets.watchToken(t, token);
    const sealed = await t.sim.userData({ openid, profile: { nickName: 'u' } });
    const res = await t.gql<{ updateProfile: { unionid: string } }>(UPDATE_PROFILE, sealed, token);
    expect(res.data!.updateProfile.unionid).toBe('oUnionProfile_1');
  });

  describe('when the data cannot be trusted, then WECHAT_DECRYPT_FAILED says to log in again and the row is unchanged', () => {
    const cases: [
      string,
      (ctx: { openid: string; otherOpenid: string }) => Promise<{ encryptedData: string; iv: string }>,
    ][] = [
      [
        'tampered encryptedData',
        async ({ openid }) => {
          const s = await t.sim.userData({ openid, profile: { nickName: 'tampered' } });
          const bytes = Buffer.from(s.encryptedData, 'base64');
          bytes[bytes.length - 20] ^= 0x40;
          return { ...s, encryptedData: bytes.toString('base64') };
        },
      ],
      [
        'a wrong iv',
        async ({ openid }) => ({
          ...(await t.sim.userData({ openid, profile: { nickName: 'wrong iv' } })),
          iv: randomBytes(16).toString('base64'),
        }),
      ],
      [
        'data encrypted for another appid',
        async ({ openid }) =>
          t.sim.userData({ openid, profile: { nickName: 'other app' }, appid: 'wxanotherapp00000' }),
      ],
      [
        "another user's openId",
        async ({ openid, otherOpenid }) =>
          t.sim.userData({ openid, profile: { nickName: 'impostor' }, openId: otherOpenid }),
      ],
    ];

    it.each(cases)('%s', async (_name, make) => {
      const a = await loggedIn();
      const other = await loggedIn();
      const before = await userRow(a.userId);
      const sealed = await make({ openid: a.openid, otherOpenid: other.openid });
      const res = await t.gql(UPDATE_PROFILE, sealed, a.token);
      expect(codeOf(res)).toBe('WECHAT_DECRYPT_FAILED');
      expect(res.errors![0].message).toMatch(/wx\.login/);
      expect(res.data).toBeNull();
      expect(await userRow(a.userId)).toEqual(before);
    });

    it('a session_key from before WeChat rotated it', async () => {
      const a = await loggedIn();
      // The user logs in again elsewhere: WeChat issues a new session_key, and new data is sealed with it.
      const again = await t.login(a.openid);
      await secrets.watchToken(t, again.token);
      const before = await userRow(a.userId);
      const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: 'fresh' } });
      const stale = await t.gql(UPDATE_PROFILE, sealed, a.token);
      expect(codeOf(stale)).toBe('WECHAT_DECRYPT_FAILED');
      expect(await userRow(a.userId)).toEqual(before);
      // The recovery the message asks for works: the fresh session decrypts it.
      const fresh = await t.gql<{ updateProfile: { nickname: string } }>(UPDATE_PROFILE, sealed, again.token);
      expect(fresh.data!.updateProfile.nickname).toBe('fresh');
    });
  });

  it('when the watermark is older than WECHAT_DATA_MAX_AGE_SECONDS, then WECHAT_DECRYPT_FAILED', async () => {
    const strict = await startServer({ env: { WECHAT_DATA_MAX_AGE_SECONDS: '60' } });
    try {
      const a = await strict.login();
      const old = await strict.sim.userData({
        openid: a.openid,
        profile: { nickName: 'old' },
        timestamp: Math.floor(Date.now() / 1000) - 3600,
      });
      expect(codeOf(await strict.gql(UPDATE_PROFILE, old, a.token))).toBe('WECHAT_DECRYPT_FAILED');
      const recent = await strict.sim.userData({ openid: a.openid, profile: { nickName: 'recent' } });
      expect(
        (await strict.gql<{ updateProfile: { nickname: string } }>(UPDATE_PROFILE, recent, a.token)).data!.updateProfile
          .nickname,
      ).toBe('recent');
    } finally {
      await strict.close();
    }
  });

  it.each([
    [
      'an iv that is not 16 bytes',
      (s: { encryptedData: string; iv: string }) => ({ ...s, iv: randomBytes(8).toString('base64') }),
    ],
    ['malformed base64 in iv', (s: { encryptedData: string; iv: string }) => ({ ...s, iv: '%%%%' })],
    [
      'a + mangled into a space',
      (s: { encryptedData: string; iv: string }) => ({ ...s, encryptedData: 'ab cd' + s.encryptedData }),
    ],
  ])('when the input has %s, then BAD_USER_INPUT and the row is unchanged', async (_name, mangle) => {
    const a = await loggedIn();
    const before = await userRow(a.userId);
    const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: 'x' } });
    expect(codeOf(await t.gql(UPDATE_PROFILE, mangle(sealed), a.token))).toBe('BAD_USER_INPUT');
    expect(await userRow(a.userId)).toEqual(before);
  });

  it('when no token is sent, then UNAUTHENTICATED', async () => {
    expect(
      codeOf(
        await t.gql(UPDATE_PROFILE, { iv: 'AAAAAAAAAAAAAAAAAAAAAA==', encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==' }),
      ),
    ).toBe('UNAUTHENTICATED');
  });

  it('when the suite is done, then no response body or log line carried a session_key', () => {
    expect(secrets.size).toBeGreaterThan(10);
    expect(secrets.leaks(t)).toEqual([]);
  });
});
