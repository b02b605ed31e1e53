import { randomBytes } from 'node:crypto';
import { SIMULATOR_PREFIX } from '../../src/app';
import { chinaTime } from '../../src/payment/payment.service';
import { createPayment, requestPayment } from '../support/pay';
import { markServicesSuite, startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { refundEnv } from '../support/refund';
import { simulatorDev } from '../support/simulator-dev';
import { eventually } from '../support/eventually';
import { freshDatabase, onServices } from '../support/target';

if (onServices) markServicesSuite();

const ORDER = `query($o: String!) { order(outTradeNo: $o) { status transactionId } }`;
/** Sweeps every second and asks about orders a second old: what minutes are in production, in seconds. */
const FAST_SWEEP = { SWEEP_INTERVAL_SECONDS: '1', RECONCILE_AFTER_SECONDS: '1' };

describe('the sweeper', () => {
  it('when a pay notify is lost for good, then the sweeper alone settles the order PAID through orderquery', async () => {
    const t = await startServer({ env: FAST_SWEEP });
    try {
      const user = await t.login();
      const { order, payParams } = await createPayment(t, user.token, 123);
      const paid = await requestPayment(t, payParams, { deliver: false });
      expect(paid.body.errMsg).toBe('requestPayment:ok');
      const status = async () =>
        (await t.gql<{ order: { status: string } }>(ORDER, { o: order.outTradeNo }, user.token)).data!.order.status;
      expect(await status()).toBe('PENDING');
      expect(await eventually(async () => (await status()) === 'PAID', 15_000)).toBe(true);
      expect(t.logs.some((l) => l.includes('sweeper: order settled by orderquery'))).toBe(true);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      expect(metrics).toMatch(/sweeper_actions_total\{action="settled"\} [1-9]/);
      expect(metrics).toMatch(/order_transitions_total\{to="PAID",via="sweeper"\} 1/);
    } finally {
      await t.close();
    }
  });

  it('when an unpaid order outlives PAY_ORDER_TTL_SECONDS with two instances sweeping, then it is closed once, at WeChat too', async () => {
    const sim = await startStandaloneSimulator();
    const database = await freshDatabase();
    const env = { ...sim.env(), ...FAST_SWEEP, PAY_ORDER_TTL_SECONDS: '2' };
    const one = await startServer({ database, env });
    const two = await startServer({ database, env });
    try {
      const { code } = await sim.loginCode();
      const login = await one.gql<{ login: { token: string } }>(
        'mutation($code: String!) { login(code: $code) { token } }',
        { code },
      );
      const token = login.data!.login.token;
      const { order } = await createPayment(one, token, 50);
      const status = async () =>
        (await one.gql<{ order: { status: string } }>(ORDER, { o: order.outTradeNo }, token)).data!.order.status;
      expect(await eventually(async () => (await status()) === 'CLOSED', 20_000)).toBe(true);
      const wechat = (await (await fetch(`${sim.base}/dev/orders/${order.outTradeNo}`)).json()) as {
        tradeState: string;
      };
      expect(wechat.tradeState).toBe('CLOSED');
      // Let a few more sweeps run on both: still closed once.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const closedLines = [...one.logs, ...two.logs].filter((l) => l.includes('unpaid order closed'));
      expect(closedLines).toHaveLength(1);
    } finally {
      await one.close();
      await two.close();
      await database.drop();
      await sim.close();
    }
  });

  it('when a refund notify is lost, then the sweeper settles the refund SUCCESS through refundquery', async () => {
    const adminToken = `ops-${randomBytes(12).toString('hex')}`;
    const t: TestServer = await startServer({ env: refundEnv(adminToken, FAST_SWEEP) });
    try {
      const user = await t.login();
      const { order, payParams } = await createPayment(t, user.token, 200);
      await requestPayment(t, payParams);
      await simulatorDev(`${t.url}${SIMULATOR_PREFIX}`, '/dev/refund-next', { outcome: 'SUCCESS', deliver: false });
      const res = await t.gql<{ refund: { status: string } }>(
        'mutation($o: String!) { refund(outTradeNo: $o, amount: 80) { status } }',
        { o: order.outTradeNo },
        adminToken,
      );
      expect(res.data!.refund.status).toBe('PROCESSING');
      const refunds = async () =>
        (
          await t.gql<{ adminOrder: { refundedAmount: number; refunds: { status: string }[] } }>(
            'query($o: String!) { adminOrder(outTradeNo: $o) { refundedAmount refunds { status } } }',
            { o: order.outTradeNo },
            adminToken,
          )
        ).data!.adminOrder;
      expect(await eventually(async () => (await refunds()).refundedAmount === 80, 15_000)).toBe(true);
      expect((await refunds()).refunds).toEqual([{ status: 'SUCCESS' }]);
      expect(t.logs.some((l) => l.includes('sweeper: refund reconciled by refundquery'))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('when the sweeper runs while a refund call is still on its way to WeChat, then it leaves that refund alone', async () => {
    const adminToken = `ops-${randomBytes(12).toString('hex')}`;
    const t: TestServer = await startServer({ env: refundEnv(adminToken, FAST_SWEEP) });
    try {
      const user = await t.login();
      const { order, payParams } = await createPayment(t, user.token, 100);
      await requestPayment(t, payParams);
      // WeChat takes 2.5 s to answer: several sweeps pass while the call is in flight.
      await simulatorDev(`${t.url}${SIMULATOR_PREFIX}`, '/dev/refund-fault', { delayMs: 2500, accept: true });
      const res = await t.gql<{ refund: { status: string; refundId: string | null } }>(
        'mutation($o: String!) { refund(outTradeNo: $o, amount: 40) { status refundId } }',
        { o: order.outTradeNo },
        adminToken,
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.refund.status).toBe('PROCESSING');
      const view = async () =>
        (
          await t.gql<{ adminOrder: { refundedAmount: number; refunds: { status: string }[] } }>(
            'query($o: String!) { adminOrder(outTradeNo: $o) { refundedAmount refunds { status } } }',
            { o: order.outTradeNo },
            adminToken,
          )
        ).data!.adminOrder;
      expect(await eventually(async () => (await view()).refundedAmount === 40, 15_000)).toBe(true);
      expect((await view()).refunds).toEqual([{ status: 'SUCCESS' }]);
      expect(t.logs.some((l) => l.includes('refund unknown to WeChat closed'))).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('when time_expire is written, then it is China time as WeChat reads it (yyyyMMddHHmmss, UTC+8)', () => {
    expect(chinaTime(new Date('2026-12-03T16:30:05Z'))).toBe('20261204003005');
    expect(chinaTime(new Date('2026-01-01T00:00:00Z'))).toBe('20260101080000');
  });
});
