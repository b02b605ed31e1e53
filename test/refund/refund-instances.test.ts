import { randomBytes } from 'node:crypto';
import { adminTokenHash } from '../../src/auth/admin';
import { codeOf, markServicesSuite, startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { createTestCa, simulatorTls } from '../support/test-ca';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';
import { TcpProxy } from '../support/tcp-proxy';
import { timed } from '../support/eventually';
import { createPayment } from '../support/pay';

if (onServices) markServicesSuite();

const ADMIN_TOKEN = `ops-${randomBytes(16).toString('hex')}`;
const REFUND = `mutation Refund($outTradeNo: String!, $amount: Int!, $outRefundNo: String) {
  refund(outTradeNo: $outTradeNo, amount: $amount, outRefundNo: $outRefundNo) { outRefundNo amount status refundId } }`;
const WECHAT_TIMEOUT_MS = 1500;

/** Servers that talk to one standalone simulator over HTTPS, as real instances talk to WeChat Pay. */
function serverEnv(payBase: string, apiBase: string) {
  const ca = createTestCa();
  return {
    WECHAT_API_BASE: apiBase,
    WECHAT_PAY_BASE: payBase,
    WECHAT_PAY_CERT_PEM: ca.client,
    WECHAT_PAY_KEY_PEM: ca.clientKey,
    WECHAT_PAY_CA_PEM: ca.ca,
    ADMIN_TOKEN_HASHES: adminTokenHash(ADMIN_TOKEN),
    SWEEP_INTERVAL_SECONDS: '0',
    WECHAT_TIMEOUT_MS: String(WECHAT_TIMEOUT_MS),
  };
}

type Sim = Awaited<ReturnType<typeof startStandaloneSimulator>>;

/** A user's order paid at the simulator (its notify lost), settled PAID by order(refresh: true). */
async function paidOrder(t: TestServer, sim: Sim, money: number): Promise<string> {
  const { code } = await sim.loginCode();
  const login = await t.gql<{ login: { token: string } }>('mutation($code: String!) { login(code: $code) { token } }', {
    code,
  });
  const token = login.data!.login.token;
  const { order, payParams } = await createPayment(t, token, money);
  const paid = await fetch(`${sim.base}/dev/request-payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...payParams, deliver: false }),
  });
  expect(paid.status).toBe(200);
  const refreshed = await t.gql<{ order: { status: string } }>(
    'query($o: String!) { order(outTradeNo: $o, refresh: true) { status } }',
    { o: order.outTradeNo },
    token,
  );
  expect(refreshed.data!.order.status).toBe('PAID');
  return order.outTradeNo;
}

describe('refunds on two instances, one WeChat Pay', () => {
  let sim: Sim;
  let database: TestDatabase;
  let one: TestServer;
  let two: TestServer;

  beforeAll(async () => {
    sim = await startStandaloneSimulator({ tls: simulatorTls() });
    database = await freshDatabase();
    const env = { ...sim.env(), ...serverEnv(sim.httpsBase, sim.base) };
    one = await startServer({ database, env });
    two = await startServer({ database, env });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await database?.drop();
    await sim?.close();
  });

  it('when ten partial refunds of 1 fen race over two instances against a 5 fen order, then exactly five are made', async () => {
    const outTradeNo = await paidOrder(one, sim, 5);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? two : one).gql<{ refund: { status: string } }>(REFUND, { outTradeNo, amount: 1 }, ADMIN_TOKEN),
      ),
    );
    const codes = answers.map((a) => (a.errors ? codeOf(a) : a.data!.refund.status)).sort();
    expect(codes).toEqual(
      [...Array<string>(5).fill('PROCESSING'), ...Array<string>(5).fill('REFUND_EXCEEDS_PAID')].sort(),
    );
    const [row] = (await one.server.orm.em
      .fork()
      .getConnection()
      .execute('select refunded, refund_count from orders where out_trade_no = ?', [outTradeNo])) as {
      refunded: number;
      refund_count: number;
    }[];
    expect([Number(row.refunded), Number(row.refund_count)]).toEqual([5, 5]);
  });
});

describe('a refund while WeChat Pay is frozen', () => {
  it('when the path to WeChat Pay freezes, then WECHAT_UNAVAILABLE within the bound and the reservation released; the same outRefundNo after the thaw makes it', async () => {
    const sim = await startStandaloneSimulator({ tls: simulatorTls() });
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(sim.httpsBase).port) });
    const port = await proxy.start();
    const t = await startServer({ env: { ...sim.env(), ...serverEnv(`https://127.0.0.1:${port}`, sim.base) } });
    try {
      const outTradeNo = await paidOrder(t, sim, 100);
      const reserved = async () => {
        const [row] = (await t.server.orm.em
          .fork()
          .getConnection()
          .execute('select refunded from orders where out_trade_no = ?', [outTradeNo])) as { refunded: number }[];
        return Number(row.refunded);
      };
      proxy.freeze();
      const frozen = await timed(() => t.gql(REFUND, { outTradeNo, amount: 30 }, ADMIN_TOKEN));
      expect(codeOf(frozen.result)).toBe('WECHAT_UNAVAILABLE');
      expect(frozen.result.errors![0].extensions).toMatchObject({ api: 'refund' });
      expect(frozen.ms).toBeLessThan(2 * WECHAT_TIMEOUT_MS + 3000);
      expect(await reserved()).toBe(0);
      const { outRefundNo } = frozen.result.errors![0].extensions as { outRefundNo: string };
      proxy.thaw();
      const again = await t.gql<{ refund: { status: string; outRefundNo: string } }>(
        REFUND,
        { outTradeNo, amount: 30, outRefundNo },
        ADMIN_TOKEN,
      );
      expect(again.errors).toBeUndefined();
      expect(again.data!.refund).toMatchObject({ status: 'PROCESSING', outRefundNo });
      expect(await reserved()).toBe(30);
    } finally {
      await proxy.stop();
      await t.close();
      await sim.close();
    }
  });
});
