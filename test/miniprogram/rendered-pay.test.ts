import { bootRendered, type RenderOptions, type RenderedPage } from '../support/render';
import { startServer, type TestServer } from '../support/server';

/** The result card as a person reads it: its two lines, and the class that colours it. */
const result = (page: RenderedPage) => {
  const cards = page.all('view', { class: 'result' });
  if (cards.length === 0) return null;
  const [card] = cards;
  return { lines: card.children.map((c) => c.text.trim()), class: String(card.attrs.class) };
};

const payButton = (page: RenderedPage) => page.one('button', { text: '支付' });

/** The pay page as a person sees it, rendered by miniprogram-simulate, against the real server and simulator. */
describe('mini-program pay page, rendered', () => {
  let t: TestServer;
  beforeAll(async () => {
    // ¥50.00, so the limit is easy to pass and to read.
    t = await startServer({ env: { PAY_MAX_AMOUNT: '5000' } });
  });
  afterAll(async () => {
    await t?.close();
  });
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  async function payPage(options: RenderOptions = {}) {
    const mp = bootRendered(t, options);
    await mp.launch();
    return { mp, page: await mp.open('pages/pay/pay') };
  }

  async function payAmount(page: RenderedPage, yuan: string) {
    await page.input(page.one('input', { class: 'amount' }), yuan);
    await page.tap('支付');
  }

  it.each([
    ['0.01', '¥0.01'],
    ['12.3', '¥12.30'],
  ])('when the user pays %s, then the card says 支付成功 with the amount and the PAID order', async (typed, shown) => {
    const { mp, page } = await payPage();
    await payAmount(page, typed);
    const card = result(page)!;
    expect(card.lines[0]).toBe(`支付成功：${shown}`);
    expect(card.lines[1]).toMatch(/^订单号：\S+（PAID）$/);
    expect(card.class).toBe('card result result-paid');
    expect(page.all('view', { class: 'error' })).toEqual([]);
    expect(payButton(page).attrs).toMatchObject({ disabled: false, loading: false });
    expect(page.one('input', { class: 'amount' }).attrs).toMatchObject({ value: typed, disabled: false });
    expect(mp.device.ui.at(-1)).toEqual({ api: 'showToast', options: { title: '支付成功', icon: 'success' } });
  });

  it('when the user types a new amount after paying, then the old result is gone', async () => {
    const { page } = await payPage();
    await payAmount(page, '0.01');
    expect(result(page)?.lines[0]).toBe('支付成功：¥0.01');
    await page.input(page.one('input', { class: 'amount' }), '12.3');
    expect(result(page)).toBeNull();
    expect(page.text()).not.toContain('支付成功');
  });

  it('when the user closes the pay sheet, then the card says cancelled and the order stays PENDING', async () => {
    const { mp, page } = await payPage();
    mp.device.nextPayment = { cancel: true };
    await payAmount(page, '0.01');
    const card = result(page)!;
    expect(card.lines[0]).toBe('支付已取消，订单仍待支付（¥0.01）');
    expect(card.lines[1]).toMatch(/（PENDING）$/);
    expect(card.class).toBe('card result result-cancelled');
  });

  it('when the pay sheet fails, then the card says so in the user’s words and WeChat’s errMsg goes only to the log', async () => {
    const { mp, page } = await payPage();
    const errMsg = 'requestPayment:fail 系统繁忙，请稍后再试';
    mp.device.nextPayment = { fail: errMsg };
    await payAmount(page, '0.01');
    const card = result(page)!;
    expect(card.lines[0]).toBe('支付未完成（¥0.01），未扣款，请稍后重试');
    expect(card.lines[1]).toMatch(/（PENDING）$/);
    expect(card.class).toBe('card result result-failed');
    expect(page.text()).not.toContain('requestPayment');
    expect(warn).toHaveBeenCalledWith('requestPayment failed', errMsg);
  });

  it('when the sheet says ok but the server never sees the money, then the card says it is not confirmed yet', async () => {
    const { mp, page } = await payPage({ payPollTimeoutMs: 200 });
    mp.device.nextPayment = { fakeSuccess: true };
    await payAmount(page, '0.01');
    const card = result(page)!;
    expect(card.lines[0]).toBe('暂未确认到账（¥0.01），请稍后在订单中查看');
    expect(card.lines[1]).toMatch(/（PENDING）$/);
    expect(card.class).toBe('card result result-unconfirmed');
  });

  it('when the amount is over the server’s PAY_MAX_AMOUNT, then the page states the limit in yuan and creates no order', async () => {
    const { mp, page } = await payPage();
    await payAmount(page, '50.01');
    expect(page.texts('view', 'error')).toEqual(['金额不能超过 ¥50.00']);
    await payAmount(page, '12345678901234567');
    expect(page.texts('view', 'error')).toEqual(['金额不能超过 ¥50.00']);
    expect(mp.device.requestsOf('mutation CreatePayment')).toEqual([]);
    expect(result(page)).toBeNull();
  });

  it('when the limit could not be read at load, then the server’s refusal is shown as the limit, read again', async () => {
    const mp = bootRendered(t);
    await mp.launch();
    let faults = 1;
    mp.device.requestFault = (r) =>
      r.body?.query?.includes('query PaymentLimits') && faults-- > 0 ? 'request:fail timeout' : undefined;
    const page = await mp.open('pages/pay/pay');
    await payAmount(page, '50.01');
    expect(mp.device.requestsOf('mutation CreatePayment').map((r) => r.errorCodes)).toEqual([['BAD_USER_INPUT']]);
    expect(page.texts('view', 'error')).toEqual(['金额不能超过 ¥50.00']);
  });

  it.each([
    ['', '请输入金额'],
    ['abc', '金额格式不对，例如 12.30'],
    ['1.234', '金额最多两位小数'],
    ['0.00', '金额须大于 0'],
  ])('when the amount typed is %j, then the error line says %s and no order is made', async (typed, message) => {
    const { mp, page } = await payPage();
    await payAmount(page, typed);
    expect(page.texts('view', 'error')).toEqual([message]);
    expect(mp.device.requestsOf('mutation CreatePayment')).toEqual([]);
  });

  it('when the network fails at createPayment, then the error line says so, no card shows, and a new amount clears the error', async () => {
    const { mp, page } = await payPage();
    mp.device.requestFault = (r) =>
      r.body?.query?.includes('mutation CreatePayment') ? 'request:fail timeout' : undefined;
    await payAmount(page, '0.01');
    expect(page.texts('view', 'error')).toEqual(['网络不可用，请稍后重试']);
    expect(result(page)).toBeNull();
    expect(payButton(page).attrs).toMatchObject({ disabled: false, loading: false });
    await page.input(page.one('input', { class: 'amount' }), '0.02');
    expect(page.all('view', { class: 'error' })).toEqual([]);
  });
});
