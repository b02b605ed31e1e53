import { LOGIN, ME, codeOf, startServer } from '../support/server';
import { CREATE_PAYMENT, ORDER, ORDERS, type CreatedPayment } from '../support/pay';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { TcpProxy } from '../support/tcp-proxy';
import { timed } from '../support/eventually';

// Generous on purpose (CI is loaded): each faulted call must answer before WeChat's deadline plus the margin.
const WECHAT_TIMEOUT_MS = 1500;
const WITHIN_MS = WECHAT_TIMEOUT_MS + 3000;

type Order = { outTradeNo: string; status: string; transactionId: string | null };

/**
 * This server talks to a standalone simulator as it would to WeChat (WECHAT_API_BASE, WECHAT_PAY_BASE), through a
 * TcpProxy that can freeze or black-hole the path. The notify URL leads nowhere: only orderquery can tell of a payment.
 */
async function setUp() {
  const sim = await startStandaloneSimulator();
  const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(sim.base).port) });
  const port = await proxy.start();
  const viaProxy = `http://127.0.0.1:${port}`;
  const t = await startServer({
    env: {
      ...sim.env(),
      WECHAT_API_BASE: viaProxy,
      WECHAT_PAY_BASE: viaProxy,
      WECHAT_TIMEOUT_MS: String(WECHAT_TIMEOUT_MS),
    },
  });

  const login = async () => {
    const { code, openid } = await sim.loginCode();
    const res = await t.gql<{ login: { token: string } }>(LOGIN, { code });
    if (!res.data?.login) throw new Error(`login failed: ${res.text}`);
    return { token: res.data.login.token, openid };
  };
  const order = async (token: string, outTradeNo: string, refresh = false) =>
    (await t.gql<{ order: Order }>(ORDER, { outTradeNo, refresh }, token)).data?.order;
  /** wx.requestPayment on the phone, straight to the simulator; its notify goes nowhere. */
  const pay = async (payment: CreatedPayment) => {
    const res = await fetch(`${sim.base}/dev/request-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appId: t.server.config.wechat.appid, ...payment.payParams, deliver: false }),
    });
    expect(((await res.json()) as { errMsg: string }).errMsg).toBe('requestPayment:ok');
  };
  const createPayment = (token: string) =>
    timed(() => t.gql<{ createPayment: CreatedPayment }>(CREATE_PAYMENT, { money: 1 }, token));

  return {
    sim,
    proxy,
    t,
    login,
    order,
    pay,
    createPayment,
    async close() {
      await proxy.stop();
      await t.close();
      await sim.close();
    },
  };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** With WeChat unreachable: every call that needs it answers in time, with a code a client can act on. */
async function expectBoundedWhileUnreachable(s: Setup, user: { token: string }, pending: CreatedPayment) {
  const { code } = await s.sim.loginCode();
  const [login, created, refreshed, me] = await Promise.all([
    timed(() => s.t.gql(LOGIN, { code })),
    s.createPayment(user.token),
    timed(() => s.order(user.token, pending.order.outTradeNo, true)),
    timed(() => s.t.gql<{ me: { openid: string } }>(ME, {}, user.token)),
  ]);
  expect(codeOf(login.result)).toBe('WECHAT_UNAVAILABLE');
  expect(login.result.data).toBeNull();
  expect(login.ms).toBeLessThan(WITHIN_MS);

  expect(codeOf(created.result)).toBe('WECHAT_UNAVAILABLE');
  expect(created.result.data).toBeNull();
  expect(created.ms).toBeLessThan(WITHIN_MS);
  // The order it wrote first is closed, not left payable: the client got no way to pay it.
  const orders = (await s.t.gql<{ orders: Order[] }>(ORDERS, { first: 10 }, user.token)).data!.orders;
  expect(orders).toHaveLength(2);
  const failed = orders.find((o) => o.outTradeNo !== pending.order.outTradeNo)!;
  expect(failed.status).toBe('CLOSED');

  // orderquery could not be asked: the order is still truthfully PENDING, and the query does not fail.
  expect(refreshed.result).toMatchObject({ outTradeNo: pending.order.outTradeNo, status: 'PENDING' });
  expect(refreshed.ms).toBeLessThan(WITHIN_MS);
  // What needs no WeChat is untouched.
  expect(me.result.data?.me).toBeTruthy();
  return failed;
}

/** After the fault: the same server, no restart, logs in, takes payments, and learns of one through orderquery. */
async function expectRecovered(s: Setup, user: { token: string }, pending: CreatedPayment, failed: Order) {
  const again = await s.login();
  const created = await s.createPayment(again.token);
  expect(created.result.data?.createPayment.order.status).toBe('PENDING');

  await s.pay(pending);
  expect(await s.order(user.token, pending.order.outTradeNo, true)).toMatchObject({
    status: 'PAID',
    transactionId: expect.any(String) as unknown,
  });
  // The order closed during the fault stays closed.
  expect((await s.order(user.token, failed.outTradeNo, true))?.status).toBe('CLOSED');
}

describe('when WeChat freezes (nothing answers, the bytes wait) and then thaws', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then login answers WECHAT_UNAVAILABLE within WECHAT_TIMEOUT_MS, createPayment answers WECHAT_UNAVAILABLE and closes its order, order(refresh) stays PENDING, and after the thaw everything works without a restart', async () => {
    const user = await s.login();
    const pending = (await s.createPayment(user.token)).result.data!.createPayment;

    s.proxy.freeze();
    const failed = await expectBoundedWhileUnreachable(s, user, pending);
    s.proxy.thaw();

    await expectRecovered(s, user, pending, failed);
  });
});

describe('when the path to WeChat black-holes and then comes back', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then the same bounded answers, and afterwards everything works without a restart', async () => {
    const user = await s.login();
    const pending = (await s.createPayment(user.token)).result.data!.createPayment;

    s.proxy.blackhole();
    const failed = await expectBoundedWhileUnreachable(s, user, pending);
    s.proxy.thaw();

    await expectRecovered(s, user, pending, failed);
  });
});
