import type { AppOption } from '../../app';
import { describeError } from '../../lib/messages';
import { login, storedSession } from '../../lib/session';

Page({
  data: {
    status: 'checking' as 'checking' | 'in' | 'out',
    openid: '',
    busy: false,
    message: '',
  },

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
      wx.showToast({ title: '已登录', icon: 'success' });
    } catch (err) {
      this.setData({ message: describeError(err) });
    } finally {
      this.setData({ busy: false });
    }
  },

  goProfile() {
    wx.navigateTo({ url: '/pages/profile/profile' });
  },

  goPay() {
    wx.navigateTo({ url: '/pages/pay/pay' });
  },
});
