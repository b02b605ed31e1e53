import { randomBytes } from 'node:crypto';
import { SIMULATOR_PREFIX } from '../../src/app';
import { adminTokenHash } from '../../src/auth/admin';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { buildPayXml } from '../../src/wechat/pay-xml';
import { encryptReqInfoText, encryptRefundReqInfo } from '../../src/wechat/refund-notify';
import { createPayment, requestPayment } from '../support/pay';
import { codeOf, markServicesSuite, startServer, type TestServer } from '../support/server';
import { refundEnv } from '../support/refund';
import { simulatorDev } from '../support/simulator-dev';
import { eventually } from '../support/eventually';
import { onServices } from '../support/target';

if (onServices) markServicesSuite();

const ADMIN_TOKEN = `ops-${randomBytes(16).toString('hex')}`;
const REFUND = `mutation Refund($outTradeNo: String!, $amount: Int!, $reason: String, $outRefundNo: String) {
  refund(outTradeNo: $outTradeNo, amount: $amount, reason: $reason, outRefundNo: $outRefundNo) {
    outRefundNo amount status refundId reason createdAt succeededAt } }`;
const ADMIN_ORDER = `query AdminOrder($outTradeNo: String!) { adminOrder(outTradeNo: $outTradeNo) {
  outTradeNo amount status refundedAmount refunds { outRefundNo amount status refundId } } }`;

type RefundView = { outRefundNo: string; amount: number; status: string; refundId: string | null };
type AdminOrder = { outTradeNo: string; amount: number; status: string; refundedAmount: number; refunds: RefundView[] };

describe('refund: an operator refunds a paid order over mutual TLS', () => {
  let t: TestServer;
  let sim: string;

  beforeAll(async () => {
    t = await startServer({ env: refundEnv(ADMIN_TOKEN) });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterAll(async () => {
    // The operator's token and the pay key never reach a log line.
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(ADMIN_TOKEN);
    expect(logs).not.toContain(SIMULATOR_IDENTITY.payKey);
    await t?.close();
  });

  const dev = <T = Record<string, unknown>>(path: string, body?: unknown) => simulatorDev<T>(sim, path, body);
  /** A paid order of `money` fen: created, paid at the simulator, its notify delivered. */
  async function paidOrder(money: number) {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, money);
    const paid = await requestPayment(t, payParams);
    expect(paid.body.errMsg).toBe('requestPayment:ok');
    expect(await eventually(async () => (await adminOrder(order.outTradeNo))?.status === 'PAID', 5000)).toBe(true);
    return { user, outTradeNo: order.outTradeNo };
  }
  const refund = (vars: Record<string, unknown>, token = ADMIN_TOKEN) =>
    t.gql<{ refund: RefundView }>(REFUND, vars, token);
  const adminOrder = async (outTradeNo: string) =>
    (await t.gql<{ adminOrder: AdminOrder | null }>(ADMIN_ORDER, { outTradeNo }, ADMIN_TOKEN)).data?.adminOrder;
  const reserved = async (outTradeNo: string) => {
    const rows = (await t.server.orm.em
      .fork()
      .getConnection()
      .execute('select refunded, refund_count from orders where out_trade_no = ?', [outTradeNo])) as {
      refunded: number;
      refund_count: number;
    }[];
    return { refunded: Number(rows[0].refunded), count: Number(rows[0].refund_count) };
  };
  const atWeChat = (outRefundNo: string) =>
    fetch(`${sim}/dev/refunds/${outRefundNo}`).then(async (r) =>
      r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined,
    );

  it('when a user token, no token or an operator token where a user belongs is used, then FORBIDDEN / UNAUTHENTICATED', async () => {
    const { user, outTradeNo } = await paidOrder(100);
    expect(codeOf(await refund({ outTradeNo, amount: 1 }, user.token))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(REFUND, { outTradeNo, amount: 1 }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refund({ outTradeNo, amount: 1 }, 'not-an-operator'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql(ADMIN_ORDER, { outTradeNo }, user.token))).toBe('FORBIDDEN');
    // An operator is no user.
    expect(codeOf(await t.gql('query { me { id } }', {}, ADMIN_TOKEN))).toBe('UNAUTHENTICATED');
    expect(await reserved(outTradeNo)).toEqual({ refunded: 0, count: 0 });
  });

  it('when a paid order is refunded in part and then in full, then each is PROCESSING, then SUCCESS by the notify, and the order REFUNDED', async () => {
    const { user, outTradeNo } = await paidOrder(300);
    const first = await refund({ outTradeNo, amount: 100, reason: '退货 🐱' });
    expect(first.errors).toBeUndefined();
    expect(first.data!.refund).toMatchObject({ amount: 100, status: 'PROCESSING', reason: '退货 🐱' });
    expect(first.data!.refund.refundId).toEqual(expect.any(String));
    expect(await eventually(async () => (await adminOrder(outTradeNo))?.refundedAmount === 100, 5000)).toBe(true);
    expect(await adminOrder(outTradeNo)).toMatchObject({ status: 'PAID', refundedAmount: 100 });

    const rest = await refund({ outTradeNo, amount: 200 });
    expect(rest.data!.refund.status).toBe('PROCESSING');
    expect(await eventually(async () => (await adminOrder(outTradeNo))?.status === 'REFUNDED', 5000)).toBe(true);
    const order = (await adminOrder(outTradeNo))!;
    expect(order.refundedAmount).toBe(300);
    expect(order.refunds.map((r) => [r.amount, r.status])).toEqual([
      [100, 'SUCCESS'],
      [200, 'SUCCESS'],
    ]);
    // The owner sees them too, through order().
    const own = await t.gql<{ order: { refundedAmount: number; status: string } }>(
      'query($o: String!) { order(outTradeNo: $o) { status refundedAmount } }',
      { o: outTradeNo },
      user.token,
    );
    expect(own.data!.order).toEqual({ status: 'REFUNDED', refundedAmount: 300 });
    // WeChat's orderquery agrees.
    const wechat = await dev<{ tradeState: string }>(`/dev/orders/${outTradeNo}`);
    expect(wechat.tradeState).toBe('REFUND');
  });

  it('when the order is not paid, unknown, or the refund goes past its amount, then a clear code and nothing reserved', async () => {
    const user = await t.login();
    const { order } = await createPayment(t, user.token, 50);
    const unpaid = await refund({ outTradeNo: order.outTradeNo, amount: 1 });
    expect(codeOf(unpaid)).toBe('ORDER_NOT_PAID');
    expect(await reserved(order.outTradeNo)).toEqual({ refunded: 0, count: 0 });
    expect(codeOf(await refund({ outTradeNo: 'no-such-order', amount: 1 }))).toBe('BAD_USER_INPUT');

    const { outTradeNo } = await paidOrder(100);
    expect((await refund({ outTradeNo, amount: 60 })).errors).toBeUndefined();
    const over = await refund({ outTradeNo, amount: 41 });
    expect(codeOf(over)).toBe('REFUND_EXCEEDS_PAID');
    expect(over.errors![0].extensions).toMatchObject({ amount: 100, refundable: 40 });
    expect(await reserved(outTradeNo)).toEqual({ refunded: 60, count: 1 });
    for (const [vars, field] of [
      [{ outTradeNo, amount: 0 }, 'amount'],
      [{ outTradeNo, amount: 1, outRefundNo: 'has space' }, 'outRefundNo'],
      [{ outTradeNo, amount: 1, reason: 'x'.repeat(81) }, 'reason'],
    ] as const) {
      const res = await refund(vars);
      expect([field, codeOf(res), res.errors![0].extensions?.field]).toEqual([field, 'BAD_USER_INPUT', field]);
    }
  });

  it('when the same outRefundNo is sent again, then the same refund answers and WeChat has one; another amount is BAD_USER_INPUT', async () => {
    const { outTradeNo } = await paidOrder(100);
    const outRefundNo = `R-same-${randomBytes(4).toString('hex')}`;
    const a = await refund({ outTradeNo, amount: 30, outRefundNo });
    const b = await refund({ outTradeNo, amount: 30, outRefundNo });
    expect(b.data!.refund.outRefundNo).toBe(outRefundNo);
    expect(b.data!.refund.refundId).toBe(a.data!.refund.refundId);
    const other = await refund({ outTradeNo, amount: 31, outRefundNo });
    expect(codeOf(other)).toBe('BAD_USER_INPUT');
    expect(other.errors![0].extensions).toMatchObject({ field: 'outRefundNo' });
    expect(await reserved(outTradeNo)).toEqual({ refunded: 30, count: 1 });
    expect((await adminOrder(outTradeNo))!.refunds).toHaveLength(1);
    expect(await atWeChat(outRefundNo)).toMatchObject({ refundFee: 30 });
  });

  it('when WeChat answers SYSTEMERROR first, then the refund is sent again under the same out_refund_no and made once', async () => {
    const { outTradeNo } = await paidOrder(100);
    await dev('/dev/refund-fault', { errCode: 'SYSTEMERROR', count: 1 });
    const res = await refund({ outTradeNo, amount: 10 });
    expect(res.errors).toBeUndefined();
    expect(res.data!.refund.status).toBe('PROCESSING');
    expect(await atWeChat(res.data!.refund.outRefundNo)).toMatchObject({ refundFee: 10 });
  });

  it('when WeChat refuses the refund, then REFUND_FAILED with its err_code, the refund CLOSED and its amount released', async () => {
    const { outTradeNo } = await paidOrder(100);
    await dev('/dev/refund-fault', { errCode: 'NOTENOUGH', errCodeDes: '基本账户余额不足', count: 1 });
    const res = await refund({ outTradeNo, amount: 40 });
    expect(codeOf(res)).toBe('REFUND_FAILED');
    expect(res.errors![0].extensions).toMatchObject({ wechatErrCode: 'NOTENOUGH' });
    expect(await reserved(outTradeNo)).toEqual({ refunded: 0, count: 0 });
    const { outRefundNo } = res.errors![0].extensions as { outRefundNo: string };
    expect((await adminOrder(outTradeNo))!.refunds).toEqual([
      expect.objectContaining({ outRefundNo, status: 'CLOSED' }),
    ]);
    // Sent again with the same key (WeChat has funds now): reserved again and made.
    const again = await refund({ outTradeNo, amount: 40, outRefundNo });
    expect(again.errors).toBeUndefined();
    expect(again.data!.refund.status).toBe('PROCESSING');
    expect(await reserved(outTradeNo)).toEqual({ refunded: 40, count: 1 });
  });

  it('when a refund notify is tampered, undecryptable or for another merchant, then FAIL, archived, and nothing changes; a replay changes nothing', async () => {
    const { outTradeNo } = await paidOrder(100);
    await dev('/dev/refund-hold', { hold: true });
    const made = (await refund({ outTradeNo, amount: 25 })).data!.refund;
    const post = async (xml: string) => {
      const res = await fetch(`${t.url}/notify/refund`, { method: 'POST', body: xml });
      return { status: res.status, text: await res.text() };
    };
    const fields = {
      out_refund_no: made.outRefundNo,
      out_trade_no: outTradeNo,
      refund_id: made.refundId!,
      transaction_id: '4200000000000000000000000001',
      total_fee: '100',
      refund_fee: '25',
      settlement_refund_fee: '25',
      refund_status: 'SUCCESS',
      success_time: '2026-12-03 12:00:00',
      refund_recv_accout: '支付用户的零钱',
      refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
      refund_request_source: 'API',
    };
    const outer = (reqInfo: string, over: Record<string, string> = {}) =>
      buildPayXml({
        return_code: 'SUCCESS',
        appid: SIMULATOR_IDENTITY.appid,
        mch_id: SIMULATOR_IDENTITY.mchId,
        nonce_str: randomBytes(8).toString('hex'),
        req_info: reqInfo,
        ...over,
      });
    const good = encryptRefundReqInfo(fields, SIMULATOR_IDENTITY.payKey, 'compact');
    const flipped = Buffer.from(good, 'base64');
    flipped[flipped.length - 20] ^= 1;

    for (const [xml, status] of [
      [outer(encryptRefundReqInfo(fields, 'otherkey0000000000000000000000ab', 'compact')), 200],
      [outer(flipped.toString('base64')), 200],
      [outer('not base64!'), 400],
      [outer(encryptReqInfoText('<root><out_refund_no>x</out_refund_no>', SIMULATOR_IDENTITY.payKey)), 200],
      [outer(good, { mch_id: '1900000000' }), 200],
      ['<xml><return_code>SUCCESS</return_code>', 400],
    ] as const) {
      const res = await post(xml);
      expect([res.status, res.text.includes('FAIL')]).toEqual([status, true]);
    }
    expect((await adminOrder(outTradeNo))!.refunds[0].status).toBe('PROCESSING');
    const archived = (await t.server.orm.em
      .fork()
      .getConnection()
      .execute("select verdict from payment_notifications where kind = 'refund' order by id")) as { verdict: string }[];
    expect(archived.map((r) => r.verdict)).toEqual(
      expect.arrayContaining(['UNDECRYPTABLE', 'BAD_BASE64', 'WRONG_MERCHANT', 'MALFORMED']),
    );

    // The genuine one settles it; the same notify again is SUCCESS and changes nothing.
    const genuine = outer(good);
    expect((await post(genuine)).text).toContain('SUCCESS');
    expect((await adminOrder(outTradeNo))!.refunds[0].status).toBe('SUCCESS');
    expect((await post(genuine)).text).toContain('SUCCESS');
    expect(await adminOrder(outTradeNo)).toMatchObject({ refundedAmount: 25, status: 'PAID' });
    // A result that names the refund with another amount (an ECB splice) is refused.
    const spliced = outer(
      encryptRefundReqInfo(
        { ...fields, refund_fee: '99', refund_status: 'REFUNDCLOSE' },
        SIMULATOR_IDENTITY.payKey,
        'compact',
      ),
    );
    expect((await post(spliced)).text).toContain('FAIL');
    expect((await adminOrder(outTradeNo))!.refunds[0].status).toBe('SUCCESS');
    // WeChat's own notify, when it comes, is a repeat.
    await dev('/dev/refund-hold', { hold: false });
    expect(await adminOrder(outTradeNo)).toMatchObject({ refundedAmount: 25 });
  });

  it('when WeChat closes the refund (REFUNDCLOSE), then it is CLOSED and its amount released', async () => {
    const { outTradeNo } = await paidOrder(100);
    await dev('/dev/refund-next', { outcome: 'REFUNDCLOSE' });
    const made = (await refund({ outTradeNo, amount: 70 })).data!.refund;
    expect(
      await eventually(async () => (await adminOrder(outTradeNo))!.refunds.some((r) => r.status === 'CLOSED'), 5000),
    ).toBe(true);
    expect(await reserved(outTradeNo)).toEqual({ refunded: 0, count: 0 });
    expect(made.status).toBe('PROCESSING');
  });
});

describe('refunds without the API certificate', () => {
  it('when WECHAT_PAY_CERT_PEM is not configured, then REFUNDS_DISABLED and no call is made', async () => {
    const t = await startServer({
      env: { ADMIN_TOKEN_HASHES: adminTokenHash(ADMIN_TOKEN), SWEEP_INTERVAL_SECONDS: '0' },
    });
    try {
      const res = await t.gql(REFUND, { outTradeNo: 'anything', amount: 1 }, ADMIN_TOKEN);
      expect(codeOf(res)).toBe('REFUNDS_DISABLED');
    } finally {
      await t.close();
    }
  });
});
