import { bootRendered, type RenderedPage } from '../support/render';
import { startServer, type TestServer } from '../support/server';

/** The three buttons as rendered: their text and whether a person can press them. */
const buttons = (page: RenderedPage) =>
  page.all('button').map((b) => ({ text: b.text.trim(), disabled: b.attrs.disabled === true }));

const failLogin = (r: { body?: { query?: string } }) =>
  r.body?.query?.includes('mutation Login') ? 'request:fail timeout' : undefined;

/** The login page as a person sees it, rendered by miniprogram-simulate, against the real server and simulator. */
describe('mini-program login page, rendered', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a new user launches the app, then the page says 已登录 with the openid and every button can be pressed', async () => {
    const mp = bootRendered(t);
    expect(await mp.launch()).toBe('logged-in');
    const page = await mp.open('pages/login/login');
    expect(page.text()).toContain('已登录');
    expect(page.text()).toContain(`openid：${mp.device.openid}`);
    expect(page.texts('view', 'error')).toEqual([]);
    expect(buttons(page)).toEqual([
      { text: '重新登录', disabled: false },
      { text: '我的资料', disabled: false },
      { text: '支付', disabled: false },
    ]);
    expect(page.one('button', { text: '重新登录' }).events).toEqual({ tap: 'onLogin' });
  });

  it('when the launch login fails while an expired session is stored, then the page shows 尚未登录, disables 我的资料 and 支付, and its message names the button it shows', async () => {
    const first = bootRendered(t);
    await first.launch();
    const stored = first.modules.session.storedSession()!;
    first.device.setStorage('wxmp.session', { ...stored, expiresAt: new Date(Date.now() - 60_000).toISOString() });
    first.device.requestFault = failLogin;

    const mp = bootRendered(t, { device: first.device });
    expect(await mp.launch()).toBe('failed');
    const page = await mp.open('pages/login/login');
    expect(page.text()).toContain('尚未登录');
    expect(page.text()).not.toContain('已登录');
    expect(page.text()).not.toContain('openid');
    expect(page.texts('view', 'error')).toEqual(['自动登录失败，请点击“微信登录”']);
    expect(buttons(page)).toEqual([
      { text: '微信登录', disabled: false },
      { text: '我的资料', disabled: true },
      { text: '支付', disabled: true },
    ]);

    // The network is back: the button the message names logs in.
    first.device.requestFault = undefined;
    await page.tap('微信登录');
    expect(page.text()).toContain('已登录');
    expect(page.texts('view', 'error')).toEqual([]);
    expect(buttons(page).map((b) => b.disabled)).toEqual([false, false, false]);
    expect(mp.device.ui).toContainEqual({ api: 'showToast', options: { title: '已登录', icon: 'success' } });
  });

  it('when the launch login fails while a valid session is stored, then the page stays logged in and the message names 重新登录', async () => {
    const first = bootRendered(t);
    await first.launch();
    first.device.sessionValid = false;
    first.device.requestFault = failLogin;

    const mp = bootRendered(t, { device: first.device });
    expect(await mp.launch()).toBe('failed');
    const page = await mp.open('pages/login/login');
    expect(page.text()).toContain('已登录');
    expect(page.texts('view', 'error')).toEqual(['自动登录失败，请点击“重新登录”']);
    expect(buttons(page)[0]).toEqual({ text: '重新登录', disabled: false });
  });

  it('when the tapped login fails, then the page shows why in the user’s words and stays logged out', async () => {
    const mp = bootRendered(t);
    mp.device.requestFault = failLogin;
    expect(await mp.launch()).toBe('failed');
    const page = await mp.open('pages/login/login');
    await page.tap('微信登录');
    expect(page.texts('view', 'error')).toEqual(['网络不可用，请稍后重试']);
    expect(page.text()).toContain('尚未登录');
    expect(buttons(page)).toEqual([
      { text: '微信登录', disabled: false },
      { text: '我的资料', disabled: true },
      { text: '支付', disabled: true },
    ]);
  });

  it('when the app starts with a valid stored token and WeChat session, then the page shows the same openid without a login', async () => {
    const first = bootRendered(t);
    await first.launch();
    const mp = bootRendered(t, { device: first.device });
    expect(await mp.launch()).toBe('kept');
    const page = await mp.open('pages/login/login');
    expect(page.text()).toContain(`openid：${first.device.openid}`);
    expect(first.device.calls.login).toBe(1);
  });
});
