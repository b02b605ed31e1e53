/**
 * The one place the mini-program learns where the server is. Change it here and nowhere else.
 *
 * In WeChat DevTools with 不校验合法域名 (project.config.json: urlCheck false), http://127.0.0.1:4000 reaches
 * `npm start` on the same machine. A phone needs the https domain registered as a request domain (request 合法域名)
 * in the mini-program console.
 */
export const config = {
  baseUrl: 'http://127.0.0.1:4000',
  /**
   * Offline development only. When set, wx.login, wx.getUserProfile, wx.requestPayment and the getPhoneNumber
   * button's code are played by the server's WeChat simulator (mounted at /simulator while the server has no
   * WECHAT_APPID): DevTools' own codes are real WeChat codes that the simulator cannot redeem. appId is the server's: 'wx00simulator0000' for the plain
   * simulator, or WECHAT_APPID when the server runs with WECHAT_SIMULATOR=1. Keep null for real WeChat, e.g.
   * `simulator: { appId: 'wx00simulator0000' }` offline.
   */
  simulator: null as null | { appId: string },
  /** How often, and for how long, the pay page asks the server whether an order is paid. */
  payPollIntervalMs: 1500,
  payPollTimeoutMs: 20000,
  /**
   * After a new avatar is submitted, how often and how many times the profile page asks the server whether WeChat's
   * image check has passed it (WeChat allows itself up to 30 minutes; the page also asks on every onShow).
   */
  avatarReviewPollIntervalMs: 3000,
  avatarReviewPolls: 10,
};
