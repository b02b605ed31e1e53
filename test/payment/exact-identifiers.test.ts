import { randomBytes } from 'node:crypto';
import { LOGIN, startServer, type TestServer } from '../support/server';
import {
  ORDER,
  createPayment,
  notificationsFor,
  orderRow,
  postNotify,
  returnCodeOf,
  signedNotify,
} from '../support/pay';

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
      if (order.outTradeNo !== order.outTradeNo.toLowerCase() && order.outTradeNo !== order.outTradeNo.toUpperCase())
        return order;
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

  it.each([
    ['order number', (n: string) => ({ out_trade_no: `${n}${'x'.repeat(40)}` })],
    ['transaction_id', () => ({ transaction_id: '4'.repeat(40) })],
  ])(
    'when a signed notify carries a %s longer than 32, then it is refused as MALFORMED, kept cut to 32, and the order stays PENDING',
    async (_name, extra) => {
      const a = await t.login();
      const order = await pendingOrder(a.token);
      const fields = { out_trade_no: order.outTradeNo, total_fee: '10', ...extra(order.outTradeNo) };
      const res = await postNotify(t, signedNotify(t, fields));
      // A 200 FAIL, not a 500: WeChat would otherwise retry a message that can never apply.
      expect(res.status).toBe(200);
      expect(returnCodeOf(res.text)).toBe('FAIL');
      const [kept] = await notificationsFor(t, fields.out_trade_no.slice(0, 32));
      expect(kept.verdict).toBe('MALFORMED');
      expect(kept.raw_body).toContain(fields.out_trade_no);
      expect((await orderRow(t, order.outTradeNo))!.status).toBe('PENDING');
    },
  );

  it.each(variants)(
    'when order(outTradeNo) names the number %s, then no order is found; the exact number finds it',
    async (_name, vary) => {
      const a = await t.login();
      const order = await pendingOrder(a.token);
      const lookup = async (outTradeNo: string) =>
        (await t.gql<{ order: { outTradeNo: string } | null }>(ORDER, { outTradeNo }, a.token)).data!.order;
      expect(await lookup(vary(order.outTradeNo))).toBeNull();
      expect(await lookup(order.outTradeNo)).toMatchObject({ outTradeNo: order.outTradeNo });
    },
  );

  it.each(variants)(
    'when WeChat answers an openid that is a known one %s, then it is another user',
    async (_name, vary) => {
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
      const rows = (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select id, openid from users where id in (?, ?) order by id', [
          Number(first.id),
          Number(other.id),
        ])) as { openid: string }[];
      expect(rows.map((r) => r.openid)).toEqual([openid, vary(openid)]);
    },
  );
});
