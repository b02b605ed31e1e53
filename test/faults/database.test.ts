import { createConnection, type Connection } from 'mysql2/promise';
import { LOGIN, ME, codeOf, startServer, type GqlResult, type TestServer } from '../support/server';
import {
  CREATE_PAYMENT,
  ORDERS,
  createPayment,
  postNotify,
  returnCodeOf,
  signedNotify,
  type CreatedPayment,
} from '../support/pay';
import { TcpProxy } from '../support/tcp-proxy';
import { describeServices, proxiedDatabase, type TestDatabase } from '../support/target';
import { arrivalOf, beforeAnswer } from '../support/arrival';
import { eventually, timed } from '../support/eventually';
import { SIMULATOR_PREFIX } from '../../src/app';
import { parsePayXml } from '../../src/wechat/pay-xml';

// The embedded target (libsql) runs in-process: there is no network hop to freeze, so these run on MariaDB only.
// Generous on purpose: CI is loaded. A faulted call must answer before two database deadlines plus this margin.
const DATABASE_TIMEOUT_MS = 1500;
const BOUND_MS = 2 * DATABASE_TIMEOUT_MS + 2000;
/** WeChat gives up on a notify after 5 s; our FAIL must come before that so it counts as an answer. */
const WECHAT_NOTIFY_DEADLINE_MS = 5000;

interface Rig {
  t: TestServer;
  proxy: TcpProxy;
  /** A connection straight to the suite's database, not through the proxy: the test's own eyes. */
  direct: Connection;
  database: TestDatabase;
}

/** A server whose DATABASE_URL is the suite's fresh MariaDB database, reached through a proxy. */
async function setUp(): Promise<Rig> {
  const { database, proxy, url: proxied } = await proxiedDatabase();
  const t = await startServer({
    database: { url: proxied, drop: async () => undefined },
    env: { DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS) },
  });
  const direct = await createConnection(database.url);
  direct.on('error', () => undefined);
  return { t, proxy, direct, database };
}

async function tearDown(rig: Rig | undefined) {
  await rig?.proxy.stop();
  await rig?.t.close();
  await rig?.direct.end();
  await rig?.database.drop();
}

const rows = async <T>(direct: Connection, sql: string, params: unknown[] = []) =>
  (await direct.query(sql, params))[0] as T[];
const orderOf = async (direct: Connection, outTradeNo: string) =>
  (
    await rows<{ status: string; transaction_id: string | null; prepay_id: string | null; last_error: string | null }>(
      direct,
      'select * from orders where out_trade_no = ?',
      [outTradeNo],
    )
  )[0];
const verdictsOf = async (direct: Connection, outTradeNo: string) =>
  (
    await rows<{ verdict: string }>(
      direct,
      'select verdict from payment_notifications where out_trade_no = ? order by id',
      [outTradeNo],
    )
  ).map((r) => r.verdict);
const stranded = async (direct: Connection) =>
  (await rows(direct, "select id from payment_notifications where verdict = 'RECEIVED'")).length;

function expectUnavailable(call: { result: GqlResult; ms: number }) {
  expect(codeOf(call.result)).toBe('SERVICE_UNAVAILABLE');
  expect(call.result.data).toBeNull();
  expect(call.ms).toBeLessThan(BOUND_MS);
}

/** Every kind of call a client and WeChat make while the database is away, each timed. */
async function faultedCalls(t: TestServer, user: { token: string }, notify: string, code: string) {
  const [me, orders, pay, login, wechat, ready] = await Promise.all([
    timed(() => t.gql(ME, {}, user.token)),
    // Through the ORM (em.find) rather than a fixed statement: bounded and mapped the same way.
    timed(() => t.gql(ORDERS, { first: 5 }, user.token)),
    timed(() => t.gql(CREATE_PAYMENT, { money: 3 }, user.token)),
    timed(() => t.gql(LOGIN, { code })),
    timed(() => postNotify(t, notify)),
    timed(async () => {
      const res = await fetch(`${t.url}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }),
  ]);
  return { me, orders, pay, login, wechat, ready };
}

function expectBounded(calls: Awaited<ReturnType<typeof faultedCalls>>) {
  expectUnavailable(calls.me);
  expectUnavailable(calls.orders);
  expectUnavailable(calls.pay);
  expectUnavailable(calls.login);
  // WeChat's FAIL, as a 500, well before WeChat gives up: it will retry.
  expect(calls.wechat.result.status).toBe(500);
  expect(returnCodeOf(calls.wechat.result.text)).toBe('FAIL');
  expect(calls.wechat.ms).toBeLessThan(WECHAT_NOTIFY_DEADLINE_MS);
  expect(calls.ready.result.status).toBe(503);
  expect(calls.ready.result.body).toMatchObject({ database: 'down', store: 'ok' });
  expect(calls.ready.ms).toBeLessThan(BOUND_MS);
}

/**
 * The same server, no restart: ready again, every call answers, and the notify WeChat retries pays the order once.
 * `concurrency` calls at once: more than the pool's 10 connections, so none of them may still be poisoned.
 */
async function expectRecovered(
  rig: Rig,
  user: { token: string; openid: string },
  paid: CreatedPayment,
  notify: string,
  concurrency = 15,
) {
  const { t, direct } = rig;
  expect(await eventually(async () => (await fetch(`${t.url}/readyz`)).status === 200, 20000)).toBe(true);
  const mes = await Promise.all(
    Array.from({ length: concurrency }, () => t.gql<{ me: { openid: string } }>(ME, {}, user.token)),
  );
  for (const me of mes) expect(me.data?.me.openid).toBe(user.openid);
  const fresh = await createPayment(t, user.token, 4);
  expect(fresh.order.status).toBe('PENDING');
  expect(fresh.payParams.package).toMatch(/^prepay_id=/);

  // WeChat's retry of the notify it saw fail: applied now, and a second copy changes nothing.
  for (const _ of [1, 2]) expect(returnCodeOf((await postNotify(t, notify)).text)).toBe('SUCCESS');
  const order = await orderOf(direct, paid.order.outTradeNo);
  expect(order.status).toBe('PAID');
  const verdicts = await verdictsOf(direct, paid.order.outTradeNo);
  // Exactly one PAID among the rows (none if an attempt made the transition out of our sight, then all DUPLICATE).
  expect(verdicts.filter((v) => v === 'PAID').length).toBeLessThanOrEqual(1);
  expect(verdicts.slice(-1)).toEqual(['DUPLICATE']);
  expect(await stranded(direct)).toBe(0);
}

/** An order to pay and the notify WeChat would send for it. */
async function pendingPayment(t: TestServer, user: { token: string }, money = 7) {
  const created = await createPayment(t, user.token, money);
  const notify = signedNotify(t, { out_trade_no: created.order.outTradeNo, total_fee: String(money) });
  return { created, notify, transactionId: parsePayXml(notify).transaction_id };
}

describeServices('when the database freezes (a stopped process) and then thaws', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => tearDown(rig));

  it('then me, createPayment, login and /notify answer within their bounds with SERVICE_UNAVAILABLE or a 500 FAIL, /readyz says 503, and after the thaw the same server serves and the notify is applied once', async () => {
    const { t, proxy, direct } = rig;
    const user = await t.login();
    const { code } = await t.sim.loginCode();
    const { created, notify, transactionId } = await pendingPayment(t, user);
    const ordersBefore = await rows(direct, 'select id from orders');

    proxy.freeze();
    expectBounded(await faultedCalls(t, user, notify, code));
    proxy.thaw();

    await expectRecovered(rig, user, created, notify);
    expect((await orderOf(direct, created.order.outTradeNo)).transaction_id).toBe(transactionId);
    // The createPayment that timed out left no order behind (its INSERT never reached the database).
    expect((await rows(direct, 'select id from orders')).length).toBe(ordersBefore.length + 1);
  });
});

describeServices('when the path to the database black-holes (bytes dropped, nothing said) and then comes back', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => tearDown(rig));

  it('then every call answers within its bound even with more callers than pool connections, and afterwards no pooled connection is left stuck', async () => {
    const { t, proxy } = rig;
    const user = await t.login();
    const { code } = await t.sim.loginCode();
    const { created, notify } = await pendingPayment(t, user);
    // Warm the pool to its 10 connections, so every one of them is on the black-holed path.
    await Promise.all(Array.from({ length: 12 }, () => t.gql(ME, {}, user.token)));

    proxy.blackhole();
    const [calls, crowd] = await Promise.all([
      faultedCalls(t, user, notify, code),
      Promise.all(Array.from({ length: 15 }, () => timed(() => t.gql(ME, {}, user.token)))),
    ]);
    expectBounded(calls);
    for (const call of crowd) expectUnavailable(call);
    proxy.thaw();

    await expectRecovered(rig, user, created, notify, 25);
  });
});

describeServices('when the connections to the database are dropped, and new ones refused for a while', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => tearDown(rig));

  it('then calls fail fast with SERVICE_UNAVAILABLE or succeed on a fresh connection, never INTERNAL_SERVER_ERROR, and the server recovers once the database accepts again', async () => {
    const { t, proxy } = rig;
    const user = await t.login();
    const { code } = await t.sim.loginCode();
    const { created, notify } = await pendingPayment(t, user);
    await Promise.all(Array.from({ length: 12 }, () => t.gql(ME, {}, user.token)));

    await proxy.cut();
    expectBounded(await faultedCalls(t, user, notify, code));
    await proxy.restore();

    // Dropped while idle: the pool must not hand out the dead connections.
    proxy.drop();
    const after = await Promise.all(
      Array.from({ length: 12 }, () => timed(() => t.gql<{ me: { openid: string } }>(ME, {}, user.token))),
    );
    for (const call of after) {
      expect(call.ms).toBeLessThan(BOUND_MS);
      if (call.result.errors) expect(codeOf(call.result)).toBe('SERVICE_UNAVAILABLE');
      else expect(call.result.data?.me.openid).toBe(user.openid);
    }

    await expectRecovered(rig, user, created, notify);
  });
});

describeServices('when the database freezes while a notify is being judged', () => {
  let rig: Rig;
  let lock: Connection | undefined;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => {
    await lock?.end();
    await tearDown(rig);
  });

  it('then WeChat gets a 500 FAIL in time, the row is marked ERROR once the database is back though the first writes of it failed, and the retry pays the order once', async () => {
    const { t, proxy, direct, database } = rig;
    const user = await t.login();
    const { created, notify, transactionId } = await pendingPayment(t, user, 9);
    const outTradeNo = created.order.outTradeNo;

    // Another session holds the order's row, so the notify's PENDING → PAID update waits on it, in flight.
    lock = await createConnection(database.url);
    lock.on('error', () => undefined);
    await lock.query('begin');
    await lock.query('select id from orders where out_trade_no = ? for update', [outTradeNo]);
    const answer = timed(() => postNotify(t, notify));
    const dbName = new URL(database.url).pathname.slice(1);
    const waiting = async () =>
      (
        await rows(
          direct,
          "select id from information_schema.processlist where db = ? and info like '%set `status` = ''PAID''%'",
          [dbName],
        )
      ).length > 0;
    expect(await eventually(waiting, 10000)).toBe(true);
    expect(await verdictsOf(direct, outTradeNo)).toEqual(['RECEIVED']);

    // Frozen from here: the update times out, and so does the first try of the write that marks the row ERROR.
    proxy.freeze();
    const { result, ms } = await answer;
    expect(result.status).toBe(500);
    expect(returnCodeOf(result.text)).toBe('FAIL');
    expect(ms).toBeLessThan(WECHAT_NOTIFY_DEADLINE_MS);
    await new Promise((r) => setTimeout(r, 2 * DATABASE_TIMEOUT_MS));
    expect(await verdictsOf(direct, outTradeNo)).toEqual(['RECEIVED']);
    proxy.thaw();
    await lock.query('rollback');

    // Marked by the retried write, well before the sweep's one-minute grace could have.
    expect(await eventually(async () => (await verdictsOf(direct, outTradeNo))[0] === 'ERROR', 20000)).toBe(true);

    expect(returnCodeOf((await postNotify(t, notify)).text)).toBe('SUCCESS');
    const order = await orderOf(direct, outTradeNo);
    expect(order.status).toBe('PAID');
    expect(order.transaction_id).toBe(transactionId);
    const verdicts = await verdictsOf(direct, outTradeNo);
    expect(verdicts[0]).toBe('ERROR');
    // PAID if the retry made the transition; DUPLICATE if the timed-out update ran once the lock was gone.
    expect(['PAID', 'DUPLICATE']).toContain(verdicts[1]);
    expect(await stranded(direct)).toBe(0);
  });
});

describeServices('when the database freezes between WeChat creating the prepay order and our recording it', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => tearDown(rig));

  it('then createPayment answers SERVICE_UNAVAILABLE without pay params, and the order is closed at WeChat and, once the database is back, here', async () => {
    const { t, proxy, direct } = rig;
    const user = await t.login();
    // unifiedorder takes a moment, so the freeze can begin while WeChat is creating the prepay order.
    const armed = await fetch(`${t.url}${SIMULATOR_PREFIX}/dev/pay-fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid: user.openid, fault: { delayMs: 1000 } }),
    });
    expect(armed.status).toBe(200);
    const arrived = arrivalOf(t.server.app.server, '/pay/unifiedorder');
    const call = timed(() => t.gql(CREATE_PAYMENT, { money: 5 }, user.token));
    await beforeAnswer(arrived, call, 'unifiedorder');
    proxy.freeze();
    const res = await call;
    expect(codeOf(res.result)).toBe('SERVICE_UNAVAILABLE');
    expect(res.result.data).toBeNull();
    expect(res.ms).toBeLessThan(BOUND_MS + 1000);

    const [order] = await rows<{ out_trade_no: string; status: string; prepay_id: string | null }>(
      direct,
      'select * from orders order by id desc limit 1',
    );
    expect(order.prepay_id).toBeNull();
    // At WeChat the prepay order is closed: nobody can pay it, params or not.
    expect(
      await eventually(
        async () => (await t.server.wechatPay!.orderQuery(order.out_trade_no)).tradeState === 'CLOSED',
        10000,
      ),
    ).toBe(true);

    await new Promise((r) => setTimeout(r, DATABASE_TIMEOUT_MS));
    proxy.thaw();
    expect(await eventually(async () => (await orderOf(direct, order.out_trade_no)).status === 'CLOSED', 20000)).toBe(
      true,
    );
    expect((await orderOf(direct, order.out_trade_no)).last_error).toMatch(/SERVICE_UNAVAILABLE/);
  });
});
