import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, SIMULATOR_PREFIX } from '../app';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';

/**
 * `npm run demo`: the whole product in one run, hermetic (a throwaway embedded database, the in-process store and
 * the simulator, whatever the environment says), walked the way a mini-program walks it, over real HTTP.
 */
export async function runDemo(print: (line: string) => void = console.log): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'wxmp-demo-'));
  const config = loadConfig({
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${join(dir, 'demo.db')}`,
    LOG_LEVEL: 'error',
  });
  const server = await createApp(config, { logger: createLogger('error') });
  const base = await server.listen();
  let ok = true;

  const step = async <T>(
    title: string,
    run: () => Promise<T>,
    check: (value: T) => string | undefined,
  ): Promise<T | undefined> => {
    try {
      const value = await run();
      const problem = check(value);
      if (problem) throw new Error(problem);
      return value;
    } catch (err) {
      ok = false;
      print(`  ✗ ${title}: ${(err as Error).message}`);
      return undefined;
    }
  };
  // Each caller names the shape it expects; step()'s check is what verifies it.
  const json = async <T>(path: string, body: unknown, token?: string): Promise<T> => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return (await res.json()) as T;
  };
  const gql = async <T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> => {
    const body = await json<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>(
      '/graphql',
      { query, variables },
      token,
    );
    if (body.errors?.length) throw new Error(`${body.errors[0].extensions?.code}: ${body.errors[0].message}`);
    return body.data as T;
  };

  try {
    print(`wxmp-graphql demo — server on ${base}, WeChat simulated in-process, embedded database\n`);

    print('1. wx.login() on the phone gives a one-time code');
    const minted = await step(
      'wx.login',
      () => json<{ code?: string; openid: string }>(`${SIMULATOR_PREFIX}/dev/login-code`, {}),
      (v) => (v.code ? undefined : 'no code'),
    );
    if (minted) print(`   code ${String(minted.code).slice(0, 8)}… for openid ${minted.openid}`);

    print('2. login(code): the server trades it with jscode2session for a session token');
    const login = minted
      ? await step(
          'login',
          () =>
            gql<{ login: { token: string; expiresAt: string; user: { id: number; openid: string } } }>(
              'mutation($code: String!) { login(code: $code) { token expiresAt user { id openid } } }',
              { code: minted.code },
            ),
          (d) => (d.login.user.openid === minted.openid ? undefined : 'wrong user'),
        )
      : undefined;
    const token = login?.login.token;
    if (login)
      print(
        `   user #${login.login.user.id}, token valid until ${login.login.expiresAt} (the session_key stays on the server)`,
      );

    print('3. wx.getUserProfile() gives encrypted data; updateProfile(iv, encryptedData) decrypts and stores it');
    const nickname = '小程序开发者🐱👍';
    const sealed = token
      ? await step(
          'wx.getUserProfile',
          () =>
            json<{ iv?: string; encryptedData: string }>(`${SIMULATOR_PREFIX}/dev/user-data`, {
              openid: minted!.openid,
              profile: { nickName: nickname, gender: 1, city: 'Shenzhen', province: 'Guangdong', country: 'China' },
            }),
          (v) => (v.iv ? undefined : 'no data'),
        )
      : undefined;
    const profile = sealed
      ? await step(
          'updateProfile',
          () =>
            gql<{ updateProfile: { nickname: string | null; city: string | null } }>(
              'mutation($iv: String!, $e: String!) { updateProfile(iv: $iv, encryptedData: $e) { nickname city } }',
              { iv: sealed.iv, e: sealed.encryptedData },
              token,
            ),
          (d) =>
            d.updateProfile.nickname === nickname ? undefined : `nickname came back as ${d.updateProfile.nickname}`,
        )
      : undefined;
    if (profile) print(`   nickname "${profile.updateProfile.nickname}", city ${profile.updateProfile.city}`);

    print('4. createPayment(money: 1) — 1 fen, ¥0.01 — returns the signed wx.requestPayment parameters');
    const created = token
      ? await step(
          'createPayment',
          () =>
            gql<{
              createPayment: {
                order: { outTradeNo: string; amount: number; status: string };
                payParams: Record<string, string>;
              };
            }>(
              'mutation { createPayment(money: 1) { order { outTradeNo amount status } payParams { timeStamp nonceStr package signType paySign } } }',
              {},
              token,
            ),
          (d) => (d.createPayment.order.status === 'PENDING' ? undefined : 'order not PENDING'),
        )
      : undefined;
    if (created)
      print(
        `   order ${created.createPayment.order.outTradeNo}: ${created.createPayment.order.amount} fen, PENDING; ${created.createPayment.payParams.package}`,
      );

    print('5. wx.requestPayment(): the user pays, and WeChat posts the signed pay-result notify to /notify');
    const paid = created
      ? await step(
          'wx.requestPayment',
          () =>
            json<{ errMsg: string; transactionId?: string; deliveries?: { returnCode: string | null }[] }>(
              `${SIMULATOR_PREFIX}/dev/request-payment`,
              { appId: config.wechat.appid, ...created.createPayment.payParams },
            ),
          (v) =>
            v.errMsg !== 'requestPayment:ok'
              ? v.errMsg
              : v.deliveries?.[0]?.returnCode !== 'SUCCESS'
                ? 'notify not answered SUCCESS'
                : undefined,
        )
      : undefined;
    if (paid)
      print(
        `   ${paid.errMsg}; notify answered ${paid.deliveries?.[0]?.returnCode}; transaction ${paid.transactionId}`,
      );

    print('6. order(outTradeNo, refresh: true): the page asks the server, not the success callback');
    const order = paid
      ? await step(
          'order',
          () =>
            gql<{
              order: { status: string; transactionId: string | null; paidAt: string | null; amount: number } | null;
            }>(
              'query($n: String!) { order(outTradeNo: $n, refresh: true) { status transactionId paidAt amount } }',
              { n: created!.createPayment.order.outTradeNo },
              token,
            ),
          (d) =>
            d.order?.status !== 'PAID'
              ? `status ${d.order?.status}`
              : d.order.transactionId !== paid.transactionId
                ? 'transaction id differs'
                : undefined,
        )
      : undefined;
    if (order?.order)
      print(`   PAID at ${order.order.paidAt}, ${order.order.amount} fen, transaction ${order.order.transactionId}`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  print(ok ? '\nEvery step checked out.' : '\nThe demo FAILED: see ✗ above.');
  return ok;
}
