import { randomBytes } from 'node:crypto';
import { LOGIN, startServer, type TestServer } from '../support/server';
import { ORDER, createPayment, notificationsFor, orderRow, postNotify, returnCodeOf, signedNotify } from '../support/pay';

/**
 * openid, unionid, out_trade_no, transaction_id and prepay_id are compared byte for byte on both targets: a notify,
 * a lookup or a login for an identifier that differs in case or by a space is about something else.
 */
describe('identifiers match exactly', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A PENDING order whose number has both cases, so its lowercased and uppercased forms differ from it. */
  async function pendingOrder(token: string, amount = 10) {
    for (;;) {
      const { order } = await createPayment(t, token, amount);
      if (order.outTradeNo !== order.outTradeNo.toLowerCase() && order.outTradeNo !== order.outTradeNo.toUpperCase()) return order;
    }
  }

  const variants: [string, (n: string) => string][] = [
    ['lowercased', (n) => n.toLowerCase()],
    ['uppercased', (n) => n.toUpperCase()],
    ['with a trailing space', (n) => `${n} `],
    ['with a leading space', (n) => ` ${n}`],
  ];

  it.each(variants)(
    'when a correctly signed notify names the order number %s, then it is UNKNOWN_ORDER and the order stays PENDING; the exact number pays it',
    async (_name, vary) => {
      const a = await t.login();
      const order = await pendingOrder(a.token);
      const before = await orderRow(t, order.outTradeNo);
      const variant = vary(order.outTradeNo);

      const res = await postNotify(t, signedNotify(t, { out_trade_no: variant, total_fee: '10' }));
      expect(returnCodeOf(res.text)).toBe('FAIL');
      expect((await notificationsFor(t, variant)).map((n) => n.verdict)).toEqual(['UNKNOWN_ORDER']);
      expect(await orderRow(t, order.outTradeNo)).toEqual(before);
      expect(before!.status).toBe('PENDING');

      const exact = await postNotify(t, signedNotify(t, { out_trade_no: order.outTradeNo, total_fee: '10' }));
      expect(returnCodeOf(exact.text)).toBe('SUCCESS');
      expect((await orderRow(t, order.outTradeNo))!.status).toBe('PAID');
      expect((await notificationsFor(t, order.outTradeNo)).map((n) => n.verdict)).toEqual(['PAID']);
    },
  );

  it('when a signed notify carries an order number longer than 32, then it matches no order and is kept cut to 32', async () => {
    const a = await t.login();
    const order = await pendingOrder(a.token);
    const long = `${order.outTradeNo}${'x'.repeat(40)}`;
    const res = await postNotify(t, signedNotify(t, { out_trade_no: long, total_fee: '10' }));
    expect(returnCodeOf(res.text)).toBe('FAIL');
    const [kept] = await notificationsFor(t, long.slice(0, 32));
    expect(kept.verdict).toBe('UNKNOWN_ORDER');
    expect(kept.raw_body).toContain(long);
    expect((await orderRow(t, order.outTradeNo))!.status).toBe('PENDING');
  });

  it.each(variants)('when order(outTradeNo) names the number %s, then no order is found; the exact number finds it', async (_name, vary) => {
    const a = await t.login();
    const order = await pendingOrder(a.token);
    const lookup = async (outTradeNo: string) => (await t.gql<{ order: { outTradeNo: string } | null }>(ORDER, { outTradeNo }, a.token)).data!.order;
    expect(await lookup(vary(order.outTradeNo))).toBeNull();
    expect(await lookup(order.outTradeNo)).toMatchObject({ outTradeNo: order.outTradeNo });
  });

  it.each(variants)('when WeChat answers an openid that is a known one %s, then it is another user', async (_name, vary) => {
    const openid = `oExact_${randomBytes(8).toString('hex')}_Mixed`;
    const loginAs = async (id: string) => {
      const { code } = await t.sim.loginCode({ openid: id });
      const res = await t.gql<{ login: { user: { id: string; openid: string } } }>(LOGIN, { code });
      expect(res.errors).toBeUndefined();
      return res.data!.login.user;
    };
    const first = await loginAs(openid);
    const other = await loginAs(vary(openid));
    expect(other.id).not.toBe(first.id);
    expect(other.openid).toBe(vary(openid));
    expect((await loginAs(openid)).id).toBe(first.id);
    const rows = await t.server.orm.em.fork().getConnection().execute('select id, openid from users where id in (?, ?) order by id', [Number(first.id), Number(other.id)]);
    expect(rows.map((r: { openid: string }) => r.openid)).toEqual([openid, vary(openid)]);
  });
});
