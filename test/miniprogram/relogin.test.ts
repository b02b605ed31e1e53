import { setTimeout as sleep } from 'node:timers/promises';
import { codeOf, ME, startServer, type TestServer } from '../support/server';
import { bootMiniProgram, type MiniProgram } from '../support/miniprogram';

/** A token or session_key gone stale under the mini-program: its client logs in again by itself, once. */
describe('mini-program client: silent re-login', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  const tokenOf = (mp: MiniProgram) => mp.modules.session.storedSession()!.token;
  /** A token of the right shape that the server never issued (a store that was flushed, another server's token). */
  const unknownToken = () => 'x'.repeat(43);

  it('when the stored token is unknown to the server, then the first call logs in silently and the page never sees UNAUTHENTICATED', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const openid = mp.device.openid;
    mp.device.setStorage('wxmp.session', { ...mp.modules.session.storedSession()!, token: unknownToken() });

    const again = bootMiniProgram(t, { device: mp.device });
    // Nothing at launch tells the phone the token is dead: it has not expired locally and checkSession is fine.
    expect(await again.launch()).toBe('kept');
    const profile = await again.open('pages/profile/profile');
    expect(profile.data).toMatchObject({ message: '', me: { openid } });
    expect(mp.device.calls.login).toBe(2);
    expect(mp.device.requestsOf('query Me').map((r) => r.errorCodes)).toEqual([['UNAUTHENTICATED'], []]);
    expect(tokenOf(again)).not.toBe(unknownToken());
  });

  it('when N requests go out together with a dead token, then exactly one login serves them all', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    mp.device.setStorage('wxmp.session', { ...mp.modules.session.storedSession()!, token: unknownToken() });
    const loginsBefore = mp.device.calls.login;

    const { client, gql } = mp.modules;
    const results = await Promise.all(Array.from({ length: 8 }, () => client.request(gql.MeDocument)));
    expect(new Set(results.map((r) => r.me.openid))).toEqual(new Set([mp.device.openid]));
    expect(mp.device.calls.login - loginsBefore).toBe(1);
    expect(mp.device.requestsOf('mutation Login')).toHaveLength(2);
    const me = mp.device.requestsOf('query Me');
    expect(me.filter((r) => r.errorCodes[0] === 'UNAUTHENTICATED')).toHaveLength(8);
    expect(me.filter((r) => r.errorCodes.length === 0)).toHaveLength(8);
  });

  it('when N requests go out before the first login has finished, then they share that one login', async () => {
    const mp = bootMiniProgram(t);
    const { client, gql } = mp.modules;
    // The pages' first calls race the launch's login, as on a real cold start.
    const launched = mp.launch();
    const results = await Promise.all(Array.from({ length: 5 }, () => client.request(gql.MeDocument)));
    expect(await launched).toBe('logged-in');
    expect(new Set(results.map((r) => r.me.openid)).size).toBe(1);
    expect(mp.device.calls.login).toBe(1);
    expect(mp.device.requestsOf('query Me').every((r) => r.errorCodes.length === 0)).toBe(true);
  });

  it('when WeChat rotated the session_key after another login, then updateProfile gets WECHAT_DECRYPT_FAILED, logs in again and retries with fresh data', async () => {
    const mp = bootMiniProgram(t, { profile: { nickName: '旋转🔑', gender: 2 } });
    await mp.launch();
    const openid = mp.device.openid!;
    // The same WeChat user logs in elsewhere (another wx.login): WeChat rotates the session_key; our token still
    // points at the old one.
    await t.login(openid);

    const profile = await mp.open('pages/profile/profile');
    await profile.tap('onSyncFromWeChat');
    expect(profile.data).toMatchObject({ message: '', me: { openid, nickname: '旋转🔑', gender: 2 } });
    expect(mp.device.requestsOf('mutation UpdateProfile').map((r) => r.errorCodes)).toEqual([
      ['WECHAT_DECRYPT_FAILED'],
      [],
    ]);
    expect(mp.device.calls).toMatchObject({ login: 2, getUserProfile: 2 });
    // The retry sent data sealed with the new session's key, not the first attempt's again.
    const [first, retry] = mp.device.requestsOf('mutation UpdateProfile');
    expect(retry.body!.variables!.encryptedData).not.toBe(first.body!.variables!.encryptedData);
    expect((await t.gql<{ me: { nickname: string } }>(ME, {}, tokenOf(mp))).data!.me.nickname).toBe('旋转🔑');
  });

  it('when getUserProfile only works inside a tap (as on a phone), then the retry cannot fetch data, the page asks for one more tap, and that tap succeeds without another login', async () => {
    const mp = bootMiniProgram(t, { profile: { nickName: '再点一次' }, requireTap: true });
    await mp.launch();
    await t.login(mp.device.openid);

    const profile = await mp.open('pages/profile/profile');
    await profile.tap('onSyncFromWeChat');
    expect(profile.data).toMatchObject({ message: '登录已刷新，请再点一次“从微信同步”', me: { nickname: null } });
    expect(mp.device.calls.login).toBe(2);

    await profile.tap('onSyncFromWeChat');
    expect(profile.data).toMatchObject({ message: '', me: { nickname: '再点一次' } });
    expect(mp.device.calls.login).toBe(2);
    expect(mp.device.requestsOf('mutation UpdateProfile').map((r) => r.errorCodes)).toEqual([
      ['WECHAT_DECRYPT_FAILED'],
      [],
    ]);
  });

  it('when the server refuses for a reason a login cannot cure, then the client throws an ApiError with that code and does not log in', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const { client, gql } = mp.modules;
    const err = await client.request(gql.CreatePaymentDocument, { money: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.ApiError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(mp.device.calls.login).toBe(1);
  });

  it('when the server cannot be reached, then the error is NETWORK_ERROR and the page says so', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    mp.modules.config.baseUrl = 'http://127.0.0.1:9';
    const err = await mp.modules.client.request(mp.modules.gql.MeDocument).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK_ERROR' });
    const profile = await mp.open('pages/profile/profile');
    expect(profile.data).toMatchObject({ me: null, loading: false, message: '网络不可用，请稍后重试' });
  });
});

describe('mini-program client: an expired token', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer({ env: { SESSION_TTL_SECONDS: '3' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Waits (bounded) until the server itself refuses the token; nothing is asserted about time. */
  async function untilExpired(token: string) {
    for (let i = 0; i < 100; i++) {
      if (codeOf(await t.gql(ME, {}, token)) === 'UNAUTHENTICATED') return;
      await sleep(100);
    }
    throw new Error('the token never expired');
  }

  it('when the token expires while the app runs, then the next page load logs in first (its expiresAt has passed) and shows the user', async () => {
    const mp = bootMiniProgram(t);
    expect(await mp.launch()).toBe('logged-in');
    const expired = mp.modules.session.storedSession()!.token;
    await untilExpired(expired);

    const profile = await mp.open('pages/profile/profile');
    expect(profile.data).toMatchObject({ message: '', me: { openid: mp.device.openid } });
    expect(mp.device.calls.login).toBe(2);
    // The phone knows the token's expiresAt, so it never sends the dead token (an unknown one: see above).
    expect(
      mp.device.requestsOf('query Me').map((r) => [r.authorization === `Bearer ${expired}`, r.errorCodes]),
    ).toEqual([[false, []]]);
  });

  it('when the stored token has expired before the app starts, then the launch logs in without asking the server first', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    await untilExpired(mp.modules.session.storedSession()!.token);

    const again = bootMiniProgram(t, { device: mp.device });
    expect(await again.launch()).toBe('logged-in');
    expect(mp.device.calls.login).toBe(2);
    // Only the Login mutations: the launch did not spend a request on the dead token.
    expect(mp.device.requests.map((r) => r.body?.query?.trim().split(/[\s(]/, 2).join(' '))).toEqual([
      'mutation Login',
      'mutation Login',
    ]);
  });
});
