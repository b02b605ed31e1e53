import { createDecipheriv } from 'node:crypto';
import { ME, UPDATE_PROFILE, codeOf, startServer, type TestServer } from '../support/server';
import { SecretWatch } from '../support/secrets';

/**
 * AES-CBC has no integrity: whoever picks the iv rewrites the first 16 bytes of the plaintext (iv' = iv ⊕ P1 ⊕ P1').
 * These tests run that attack against the real server with data the simulator sealed as WeChat does.
 */
describe('updateProfile with data an iv rewrite can forge', () => {
  let t: TestServer;
  const secrets = new SecretWatch();

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function loginWith(unionid?: string) {
    const { code, openid } = await t.sim.loginCode(unionid ? { unionid } : {});
    const res = await t.gql<{ login: { token: string; user: { id: string } } }>(
      'mutation($code:String!){login(code:$code){token user{id}}}',
      { code },
    );
    const token = res.data!.login.token;
    await secrets.watchToken(t, token);
    return { token, openid, userId: res.data!.login.user.id };
  }

  const me = async (token: string) => (await t.gql<{ me: Record<string, unknown> }>(ME, {}, token)).data!.me;
  /** The users row as stored, every column: the tests compare it whole before and after. */
  const userRow = async (id: string) =>
    (
      (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select * from users where id = ?', [Number(id)])) as Record<string, unknown>[]
    )[0];

  /** The plaintext the server would decrypt (padding removed), read with the session's own key: proof the forgery is well-formed. */
  async function plaintextOf(token: string, sealed: { iv: string; encryptedData: string }) {
    const session = await t.server.services.sessions.load(token);
    const decipher = createDecipheriv(
      'aes-128-cbc',
      Buffer.from(session!.sessionKey, 'base64'),
      Buffer.from(sealed.iv, 'base64'),
    );
    return Buffer.concat([decipher.update(Buffer.from(sealed.encryptedData, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  }

  it('when iv bits are flipped so the first block reads {"unionId":"EVIL, then WECHAT_DECRYPT_FAILED and the user is unchanged', async () => {
    // A user WeChat gave no unionid, so the data carries none after the forged one (JSON.parse keeps the last).
    const a = await loginWith();
    const stored = await t.gql(
      UPDATE_PROFILE,
      await t.sim.userData({ openid: a.openid, profile: { nickName: 'real', city: 'Hangzhou' } }),
      a.token,
    );
    expect(stored.errors).toBeUndefined();
    const before = await me(a.token);
    const rowBefore = await userRow(a.userId);

    const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: 'forged', city: 'Nowhere' } });
    // As WeChat writes it, openId comes first: its first 16 bytes are the block the iv controls.
    expect(await plaintextOf(a.token, sealed)).toMatch(new RegExp(`^\\{"openId":"${a.openid}",`));
    const original = Buffer.from(`{"openId":"${a.openid}`).subarray(0, 16);
    const wanted = Buffer.from('{"unionId":"EVIL');
    const iv = Buffer.from(sealed.iv, 'base64');
    for (let i = 0; i < 16; i++) iv[i] ^= original[i] ^ wanted[i];
    const forged = { ...sealed, iv: iv.toString('base64') };

    // The forgery is real: valid padding, UTF-8 and JSON with our watermark, a unionId of the attacker's, no openId.
    const plain = JSON.parse(await plaintextOf(a.token, forged)) as {
      unionId?: string;
      openId?: string;
      watermark: { appid: string };
    };
    expect(plain.unionId).toMatch(/^EVIL/);
    expect(plain.openId).toBeUndefined();
    expect(plain.watermark.appid).toBe(t.server.config.wechat.appid);

    const res = await t.gql(UPDATE_PROFILE, forged, a.token);
    expect(codeOf(res)).toBe('WECHAT_DECRYPT_FAILED');
    expect(res.data).toBeNull();
    expect(await me(a.token)).toEqual(before);
    expect(before).toMatchObject({ unionid: null, nickname: 'real', city: 'Hangzhou' });
    expect(await userRow(a.userId)).toEqual(rowBefore);
  });

  it('when the data carries no openId, then WECHAT_DECRYPT_FAILED and nothing is written', async () => {
    const a = await loginWith();
    const before = await userRow(a.userId);
    const sealed = await t.sim.userData({
      openid: a.openid,
      openId: null,
      profile: { nickName: 'anonymous data', gender: 1 },
    });
    const res = await t.gql(UPDATE_PROFILE, sealed, a.token);
    expect(codeOf(res)).toBe('WECHAT_DECRYPT_FAILED');
    expect(res.data).toBeNull();
    expect(await userRow(a.userId)).toEqual(before);
    expect(await me(a.token)).toMatchObject({ nickname: null, gender: null });
  });

  it("when the data's unionId differs from the login's, then the profile is stored and the unionid stays the login's", async () => {
    const a = await loginWith('oUnionFromLogin_1');
    const sealed = await t.sim.userData({
      openid: a.openid,
      profile: { nickName: 'mine', unionId: 'oUnionFromData_1' },
    });
    const res = await t.gql<{ updateProfile: { nickname: string; unionid: string } }>(UPDATE_PROFILE, sealed, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.updateProfile).toMatchObject({ nickname: 'mine', unionid: 'oUnionFromLogin_1' });
    expect(await me(a.token)).toMatchObject({ nickname: 'mine', unionid: 'oUnionFromLogin_1' });
    expect((await userRow(a.userId)).unionid).toBe('oUnionFromLogin_1');
  });

  it('when the login had no unionid and the data carries one, then the unionid stays null', async () => {
    const a = await loginWith();
    const sealed = await t.sim.userData({
      openid: a.openid,
      profile: { nickName: 'no union', unionId: 'oUnionFromData_2' },
    });
    const res = await t.gql<{ updateProfile: { nickname: string; unionid: string | null } }>(
      UPDATE_PROFILE,
      sealed,
      a.token,
    );
    expect(res.data!.updateProfile).toMatchObject({ nickname: 'no union', unionid: null });
    expect((await userRow(a.userId)).unionid).toBeNull();
  });

  it('when the suite is done, then no response body or log line carried a session_key', () => {
    expect(secrets.size).toBeGreaterThan(4);
    expect(secrets.leaks(t)).toEqual([]);
  });
});
