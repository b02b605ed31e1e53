import { startServer, ME, type TestServer } from '../support/server';
import { armPayFault, notificationsFor, ORDER, orderRow } from '../support/pay';
import { bootMiniProgram, type MiniProgram, type PageHandle } from '../support/miniprogram';

/** The part of each page's data these tests read (a PageHandle's data is untyped). */
interface PayResultView {
  kind: string;
  message: string;
  outTradeNo: string;
  status: string;
}
const payResult = (page: PageHandle) => (page.data as { result: PayResultView | null }).result!;
const profileData = (page: PageHandle) => page.data as { me: { openid: string; nickname: string | null } };

/** The mini-program's own app, pages and client on a shim phone, against the real server and its simulator. */
describe('mini-program: launch → login → profile → pay', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  const tokenOf = (mp: MiniProgram) => mp.modules.session.storedSession()!.token;
  const serverOrder = async (mp: MiniProgram, outTradeNo: string) =>
    (
      await t.gql<{ order: { status: string; amount: number; transactionId: string | null } }>(
        ORDER,
        { outTradeNo, refresh: false },
        tokenOf(mp),
      )
    ).data!.order;

  it('when a new user launches the app, syncs the profile and pays ¥0.01, then the order is PAID and the page shows it', async () => {
    const mp = bootMiniProgram(t, {
      profile: {
        nickName: '测试🐱👍',
        gender: 1,
        language: 'zh_CN',
        city: 'Shenzhen',
        province: 'Guangdong',
        country: 'China',
        avatarUrl: 'https://thirdwx.qlogo.cn/x/132',
      },
    });

    // Launch: no stored token, so the app logs in (no checkSession needed).
    expect(await mp.launch()).toBe('logged-in');
    expect(mp.device.calls.login).toBe(1);
    const session = mp.modules.session.storedSession()!;
    expect(session.openid).toBe(mp.device.openid);

    const login = await mp.open('pages/login/login');
    expect(login.data).toMatchObject({ status: 'in', openid: mp.device.openid, message: '' });

    const profile = await mp.open('pages/profile/profile');
    expect(profile.data.me).toMatchObject({ openid: mp.device.openid, nickname: null });
    await profile.tap('onSyncFromWeChat');
    expect(profile.data.message).toBe('');
    expect(profile.data.me).toMatchObject({
      nickname: '测试🐱👍',
      city: 'Shenzhen',
      avatarUrl: 'https://thirdwx.qlogo.cn/x/132',
    });
    expect(profile.data.gender).toBe('男');
    expect(mp.device.ui).toContainEqual({ api: 'showToast', options: { title: '资料已更新', icon: 'success' } });
    // The server has it, not only the page.
    expect((await t.gql<{ me: { nickname: string } }>(ME, {}, session.token)).data!.me.nickname).toBe('测试🐱👍');

    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '0.01');
    await pay.tap('onPay');
    expect(pay.data).toMatchObject({
      paying: false,
      error: '',
      result: { kind: 'paid', status: 'PAID', message: '支付成功：¥0.01' },
    });
    const order = await serverOrder(mp, payResult(pay).outTradeNo);
    expect(order).toMatchObject({ status: 'PAID', amount: 1 });
    expect(order.transactionId).toBeTruthy();
    expect(mp.device.ui.map((u) => u.api)).toEqual(expect.arrayContaining(['showLoading', 'hideLoading']));
    expect(mp.device.ui.at(-1)).toEqual({ api: 'showToast', options: { title: '支付成功', icon: 'success' } });

    // One login for the whole session; every call carried its token.
    expect(mp.device.calls.login).toBe(1);
    expect(mp.device.requestsOf('mutation Login')).toHaveLength(1);
    expect(
      mp.device.requests
        // Login and paymentLimits need no token.
        .filter((r) => !r.body?.query?.includes('mutation Login') && !r.body?.query?.includes('query PaymentLimits'))
        .every((r) => r.authorization === `Bearer ${session.token}`),
    ).toBe(true);
  });

  it('when the app starts again with a valid stored token and a valid WeChat session, then it keeps the token and does not log in', async () => {
    const first = bootMiniProgram(t);
    await first.launch();
    const token = tokenOf(first);

    const again = bootMiniProgram(t, { device: first.device });
    expect(await again.launch()).toBe('kept');
    expect(first.device.calls).toMatchObject({ login: 1, checkSession: 1 });
    const profile = await again.open('pages/profile/profile');
    expect(profileData(profile).me.openid).toBe(first.device.openid);
    expect(tokenOf(again)).toBe(token);
  });

  it('when wx.checkSession fails at launch, then the app logs in again although its token still works', async () => {
    const first = bootMiniProgram(t);
    await first.launch();
    const oldToken = tokenOf(first);
    first.device.sessionValid = false;

    const again = bootMiniProgram(t, { device: first.device });
    expect(await again.launch()).toBe('logged-in');
    expect(first.device.calls.login).toBe(2);
    expect(tokenOf(again)).not.toBe(oldToken);
    expect(first.device.requestsOf('mutation Login').map((r) => r.body?.variables?.code)).toHaveLength(2);
  });

  it('when the user cancels the pay sheet, then the page says it was cancelled and the order stays PENDING', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '12.3');
    mp.device.nextPayment = { cancel: true };
    await pay.tap('onPay');
    expect(pay.data.result).toMatchObject({
      kind: 'cancelled',
      status: 'PENDING',
      message: '支付已取消，订单仍待支付（¥12.30）',
    });
    expect(mp.device.ui.some((u) => u.api === 'showToast')).toBe(false);
    const { outTradeNo } = payResult(pay);
    expect(await serverOrder(mp, outTradeNo)).toMatchObject({ status: 'PENDING', amount: 1230, transactionId: null });
    expect((await orderRow(t, outTradeNo))!.status).toBe('PENDING');
  });

  it('when WeChat’s notify never arrives, then polling order(refresh: true) turns the order PAID', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '8.88');
    mp.device.nextPayment = { deliver: false };
    await pay.tap('onPay');
    expect(pay.data.result).toMatchObject({ kind: 'paid', status: 'PAID' });
    const { outTradeNo } = payResult(pay);
    // PAID without any notify: the server learned it from orderquery.
    expect(await notificationsFor(t, outTradeNo)).toEqual([]);
    expect(await serverOrder(mp, outTradeNo)).toMatchObject({ status: 'PAID', amount: 888 });
    expect(mp.device.requestsOf('query Order').every((r) => r.body?.variables?.refresh === true)).toBe(true);
  });

  it('when the pay sheet says ok but WeChat took no money, then the page does not claim success and the order stays PENDING', async () => {
    const mp = bootMiniProgram(t, { payPollIntervalMs: 20, payPollTimeoutMs: 200 });
    await mp.launch();
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '1');
    mp.device.nextPayment = { fakeSuccess: true };
    await pay.tap('onPay');
    expect(pay.data.result).toMatchObject({ kind: 'unconfirmed', status: 'PENDING' });
    expect(payResult(pay).message).toContain('暂未确认到账');
    expect(mp.device.requestsOf('query Order').length).toBeGreaterThanOrEqual(1);
    expect(mp.device.ui.some((u) => u.api === 'showToast')).toBe(false);
    expect(await serverOrder(mp, payResult(pay).outTradeNo)).toMatchObject({ status: 'PENDING' });
  });

  it.each([
    ['', '请输入金额'],
    ['1.234', '金额最多两位小数'],
    ['-5', '金额格式不对，例如 12.30'],
    ['0', '金额须大于 0'],
  ])('when the amount typed is %j, then the page says %s and no order is created', async (text, message) => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', text);
    await pay.tap('onPay');
    expect(pay.data).toMatchObject({ error: message, result: null, paying: false });
    expect(mp.device.requestsOf('mutation CreatePayment')).toEqual([]);
    expect(mp.device.calls.requestPayment).toBe(0);
  });

  it('when the amount is above PAY_MAX_AMOUNT, then the page states the limit from paymentLimits and creates no order', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const pay = await mp.open('pages/pay/pay');
    expect(pay.data.maxAmount).toBe(100000);
    await pay.input('onAmountInput', '1000.01');
    await pay.tap('onPay');
    expect(pay.data).toMatchObject({ error: '金额不能超过 ¥1000.00', result: null });
    expect(mp.device.requestsOf('mutation CreatePayment')).toEqual([]);
    expect(mp.device.calls.requestPayment).toBe(0);
  });

  it('when unifiedorder fails, then the page shows WeChat’s reason from PAYMENT_FAILED', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    await armPayFault(t, mp.device.openid!, { errCode: 'NOTENOUGH', errCodeDes: '余额不足' });
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '2');
    await pay.tap('onPay');
    expect(pay.data.error).toBe('支付下单失败：余额不足');
    expect(mp.device.calls.requestPayment).toBe(0);
  });

  it('when config.simulator is set (DevTools offline), then login, profile and pay go through the simulator’s dev endpoints and end PAID', async () => {
    const mp = bootMiniProgram(t);
    mp.modules.config.simulator = { appId: t.server.config.wechat.appid };
    expect(await mp.launch()).toBe('logged-in');
    const profile = await mp.open('pages/profile/profile');
    await profile.tap('onSyncFromWeChat');
    expect(profile.data).toMatchObject({ message: '', me: { nickname: '微信用户' } });
    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '0.5');
    await pay.tap('onPay');
    expect(pay.data.result).toMatchObject({ kind: 'paid', status: 'PAID', message: '支付成功：¥0.50' });
    // The phone's own WeChat was never asked; only wx.request was used.
    expect(mp.device.calls).toEqual({ login: 0, checkSession: 0, getUserProfile: 0, requestPayment: 0 });
    expect(
      mp.device.requests.filter((r) => r.url.includes('/simulator/dev/')).map((r) => r.url.replace(t.url, '')),
    ).toEqual(['/simulator/dev/login-code', '/simulator/dev/user-data', '/simulator/dev/request-payment']);
    // A second start keeps the same simulated WeChat user.
    const openid = mp.modules.session.storedSession()!.openid;
    mp.device.storage.delete('wxmp.session');
    const again = bootMiniProgram(t, { device: mp.device });
    again.modules.config.simulator = mp.modules.config.simulator;
    expect(await again.launch()).toBe('logged-in');
    expect(again.modules.session.storedSession()!.openid).toBe(openid);
  });

  /** Makes this phone's WeChat answer one UI API with a fail callback, as it does when it cannot show or open it. */
  const failUi = (mp: MiniProgram, api: 'navigateTo' | 'showToast', errMsg: string) => {
    const calls: Record<string, unknown>[] = [];
    (mp.device.wx as unknown as Record<string, unknown>)[api] = (options: {
      fail?: (err: { errMsg: string }) => void;
    }) => {
      calls.push(options);
      options.fail?.({ errMsg });
    };
    return calls;
  };

  it('when WeChat refuses to open the next page (10 pages on the stack), then the login page shows WeChat’s reason', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const login = await mp.open('pages/login/login');
    const opened = failUi(mp, 'navigateTo', 'navigateTo:fail webview count limit exceed');
    await login.tap('goPay');
    expect(opened).toMatchObject([{ url: '/pages/pay/pay' }]);
    expect(login.data.message).toBe('微信接口失败：navigateTo:fail webview count limit exceed');
    await login.tap('goProfile');
    expect(opened).toMatchObject([{ url: '/pages/pay/pay' }, { url: '/pages/profile/profile' }]);
    expect(login.data).toMatchObject({
      status: 'in',
      message: '微信接口失败：navigateTo:fail webview count limit exceed',
    });
  });

  it('when WeChat cannot show a toast, then the page still shows the outcome and no error', async () => {
    const mp = bootMiniProgram(t);
    await mp.launch();
    const toasts = failUi(mp, 'showToast', 'showToast:fail');
    const login = await mp.open('pages/login/login');
    await login.tap('onLogin');
    expect(toasts).toMatchObject([{ title: '已登录', icon: 'success' }]);
    expect(login.data).toMatchObject({ status: 'in', busy: false, message: '' });

    const pay = await mp.open('pages/pay/pay');
    await pay.input('onAmountInput', '0.02');
    await pay.tap('onPay');
    expect(toasts).toMatchObject([{ title: '已登录' }, { title: '支付成功', icon: 'success' }]);
    expect(pay.data).toMatchObject({ paying: false, error: '', result: { kind: 'paid', status: 'PAID' } });
  });
});
