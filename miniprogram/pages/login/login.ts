import type { AppOption } from '../../app';
import { describeError } from '../../lib/messages';
import { login, storedSession } from '../../lib/session';
import { navigateTo, showToast } from '../../lib/ui';

interface LoginData {
  status: 'checking' | 'in' | 'out';
  openid: string;
  /** The login button's text, which the failure message names. */
  action: string;
  busy: boolean;
  message: string;
}

const data: LoginData = { status: 'checking', openid: '', action: '微信登录', busy: false, message: '' };

Page({
  data,

  async onLoad() {
    // The app logs in at launch when it must; this page only shows the outcome.
    const launch = await getApp<AppOption>().globalData.launch;
    this.showSession();
    if (launch === 'failed') this.setData({ message: `自动登录失败，请点击“${this.data.action}”` });
  },

  /** An expired stored session is no session: storedSession() does not return it. */
  showSession() {
    const session = storedSession();
    this.setData({
      status: session ? 'in' : 'out',
      openid: session?.openid ?? '',
      action: session ? '重新登录' : '微信登录',
    });
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
