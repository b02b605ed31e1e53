import { randomBytes } from 'node:crypto';
import { SIMULATOR_PREFIX } from '../../src/app';
import { eventually } from '../support/eventually';
import { bootRendered, type RenderedPage } from '../support/render';
import { startServer, type TestServer } from '../support/server';
import { refundEnv } from '../support/refund';
import { simulatorDev } from '../support/simulator-dev';

const ADMIN_TOKEN = `ops-${randomBytes(16).toString('hex')}`;
const REFUND = `mutation Refund($outTradeNo: String!, $amount: Int!) {
  refund(outTradeNo: $outTradeNo, amount: $amount) { outRefundNo status } }`;
const ADMIN_ORDER = `query AdminOrder($outTradeNo: String!) { adminOrder(outTradeNo: $outTradeNo) {
  status refundedAmount refunds { outRefundNo status } } }`;
type AdminOrder = { status: string; refundedAmount: number; refunds: { outRefundNo: string; status: string }[] };

/** The result card's lines as a person reads them, top to bottom. */
const card = (page: RenderedPage) => page.one('view', { class: 'result' }).children.map((c) => c.text.trim());

/**
 * Refunds on the pay page's result, rendered: an operator refunds (the refund mutation, an ADMIN token, mutual TLS
 * to the in-process simulator as in test/refund/refund.test.ts), the user comes back to the page (onShow).
 */
describe('mini-program pay page, rendered: the order’s refunds', () => {
  let t: TestServer;
  let sim: string;
  beforeAll(async () => {
    t = await startServer({ env: refundEnv(ADMIN_TOKEN) });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  const dev = (path: string, body: unknown) => simulatorDev(sim, path, body);
  const adminOrder = async (outTradeNo: string) =>
    (await t.gql<{ adminOrder: AdminOrder }>(ADMIN_ORDER, { outTradeNo }, ADMIN_TOKEN)).data!.adminOrder;
  async function refund(outTradeNo: string, amount: number) {
    const res = await t.gql<{ refund: { outRefundNo: string; status: string } }>(
      REFUND,
      { outTradeNo, amount },
      ADMIN_TOKEN,
    );
    expect(res.errors).toBeUndefined();
    return res.data!.refund.outRefundNo;
  }
  const settled = (outTradeNo: string, outRefundNo: string, status: string) =>
    eventually(
      async () => (await adminOrder(outTradeNo)).refunds.find((r) => r.outRefundNo === outRefundNo)?.status === status,
      5000,
    );

  async function paid(yuan: string) {
    const mp = bootRendered(t);
    await mp.launch();
    const page = await mp.open('pages/pay/pay');
    await page.input(page.one('input', { class: 'amount' }), yuan);
    await page.tap('支付');
    expect(page.data.result).toMatchObject({ kind: 'paid', status: 'PAID' });
    return { mp, page, outTradeNo: (page.data.result as { outTradeNo: string }).outTradeNo };
  }

  it('when an operator refunds in part and then the rest, then each return to the page shows the refunds, the amount refunded, and at last 已全额退款', async () => {
    const { page, outTradeNo } = await paid('3');
    expect(card(page)).toEqual(['支付成功：¥3.00', `订单号：${outTradeNo}（PAID）`]);

    // WeChat accepted the refund but has not paid it out yet: PROCESSING, not counted as refunded.
    await dev('/dev/refund-next', { deliver: false });
    const first = await refund(outTradeNo, 100);
    await page.show();
    expect(card(page)).toEqual(['支付成功：¥3.00', '退款 ¥1.00：退款中', `订单号：${outTradeNo}（PAID）`]);

    await dev(`/dev/refunds/${first}/settle`, { status: 'SUCCESS' });
    expect(await settled(outTradeNo, first, 'SUCCESS')).toBe(true);
    await page.show();
    expect(card(page)).toEqual([
      '支付成功：¥3.00',
      '已退款 ¥1.00（共 ¥3.00）',
      '退款 ¥1.00：已退款',
      `订单号：${outTradeNo}（PAID）`,
    ]);

    const rest = await refund(outTradeNo, 200);
    expect(await settled(outTradeNo, rest, 'SUCCESS')).toBe(true);
    await page.show();
    expect(card(page)).toEqual([
      '已全额退款：¥3.00',
      '退款 ¥1.00：已退款',
      '退款 ¥2.00：已退款',
      `订单号：${outTradeNo}（REFUNDED）`,
    ]);
  });

  it('when WeChat closes a refund or cannot pay it out, then the page says 未退款 or asks to contact support, and nothing counts as refunded', async () => {
    const { page, outTradeNo } = await paid('1');
    await dev('/dev/refund-next', { outcome: 'REFUNDCLOSE' });
    const closed = await refund(outTradeNo, 30);
    expect(await settled(outTradeNo, closed, 'CLOSED')).toBe(true);
    await dev('/dev/refund-next', { outcome: 'CHANGE' });
    const change = await refund(outTradeNo, 40);
    expect(await settled(outTradeNo, change, 'CHANGE')).toBe(true);
    await page.show();
    expect(card(page)).toEqual([
      '支付成功：¥1.00',
      '退款 ¥0.30：未退款（已关闭）',
      '退款 ¥0.40：退款异常，请联系客服',
      `订单号：${outTradeNo}（PAID）`,
    ]);
  });

  it('when the order cannot be read on the way back, then the card keeps what it showed', async () => {
    const { mp, page, outTradeNo } = await paid('1');
    await refund(outTradeNo, 10);
    mp.device.requestFault = (r) => (r.body?.query?.includes('query Order') ? 'request:fail timeout' : undefined);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      await page.show();
    } finally {
      warn.mockRestore();
    }
    expect(card(page)).toEqual(['支付成功：¥1.00', `订单号：${outTradeNo}（PAID）`]);
    expect(mp.device.requestsOf('query Order').at(-1)?.status).toBeUndefined();
  });
});
