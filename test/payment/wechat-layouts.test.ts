import { startServer, type TestServer } from '../support/server';
import { ORDER, createPayment, notificationsFor, requestPayment } from '../support/pay';
import { PAY_XML_LAYOUTS } from '../../src/wechat/pay-xml';

/**
 * The whole payment through the real server, with the simulator writing every answer and notify in one of WeChat's
 * layouts. Real WeChat puts a newline between fields; when that was read as a field, every genuine unifiedorder
 * answer "did not verify" and every notify was "bad sign", so no order could become PAID.
 */
describe.each(PAY_XML_LAYOUTS)('WeChat Pay answering in the %s layout', (layout) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer({ env: { SIMULATOR_XML_LAYOUT: layout } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("when a user pays, then unifiedorder's answer and the notify are read and verified, and the order is PAID", async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 7);
    expect(created.order.status).toBe('PENDING');
    expect(created.payParams.package).toMatch(/^prepay_id=wx/);

    const paid = await requestPayment(t, created.payParams);
    expect(paid.body.deliveries?.map((d) => [d.status, d.returnCode])).toEqual([[200, 'SUCCESS']]);
    expect((await notificationsFor(t, created.order.outTradeNo)).map((n) => n.verdict)).toEqual(['PAID']);
    const after = await t.gql<{ order: { status: string; transactionId: string } }>(
      ORDER,
      { outTradeNo: created.order.outTradeNo },
      a.token,
    );
    expect(after.data?.order).toMatchObject({ status: 'PAID', transactionId: paid.body.transactionId });
  });

  it("when WeChat loses the notify, then orderquery's answer alone settles the order", async () => {
    const a = await t.login();
    const created = await createPayment(t, a.token, 3);
    await requestPayment(t, created.payParams, { deliver: false });
    const refreshed = await t.gql<{ order: { status: string } }>(
      ORDER,
      { outTradeNo: created.order.outTradeNo, refresh: true },
      a.token,
    );
    expect(refreshed.data?.order.status).toBe('PAID');
  });
});
