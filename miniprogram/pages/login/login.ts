import type { AppOption } from '../../app';
import { describeError } from '../../lib/messages';
import { login, storedSession } from '../../lib/session';
import { navigateTo, showToast } from '../../lib/ui';

interface LoginData {
  status: 'checking' | 'in' | 'out';
  openid: string;
  busy: boolean;
  message: string;
}

const data: LoginData = { status: 'checking', openid: '', busy: false, message: '' };

Page({
  data,

  async onLoad() {
    // The app logs in at launch when it must; this page only shows the outcome.
    const launch = await getApp<AppOption>().globalData.launch;
    this.showSession();
    if (launch === 'failed') this.setData({ message: '自动登录失败，请点击登录' });
  },

  showSession() {
    const session = storedSession();
    this.setData({ status: session ? 'in' : 'out', openid: session?.openid ?? '' });
  },

  /** A fresh wx.login + login, e.g. after the automatic one failed. */
  async onLogin() {
    if (this.data.busy) return;
    this.setData({ busy: true, message: '' });
    try {
      await login();
      this.showSession();
      showToast('已登录', 'success');
    } catch (err) {
      this.setData({ message: describeError(err) });
    } finally {
      this.setData({ busy: false });
    }
  },

  goProfile() {
    navigateTo('/pages/profile/profile', (err) => this.setData({ message: describeError(err) }));
  },

  goPay() {
    navigateTo('/pages/pay/pay', (err) => this.setData({ message: describeError(err) }));
  },
});
