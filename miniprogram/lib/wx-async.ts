/**
 * Promises over the callback APIs of `wx`. Only success/fail callbacks are used, the shape every base library
 * version has. With config.simulator set, the WeChat-side calls go to the server's simulator instead.
 */
import { config } from '../config';
import { WxError } from './http';
import * as simulator from './simulator';

export { WxError } from './http';

export function login(): Promise<string> {
  if (config.simulator) return simulator.login();
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: (err) => reject(new WxError(err.errMsg)) });
  });
}

/** false when WeChat's session_key has expired: data sealed now would not match the server's session. */
export function checkSession(): Promise<boolean> {
  // The simulator's sessions do not expire; the server's token is still checked.
  if (config.simulator) return Promise.resolve(true);
  return new Promise((resolve) => {
    wx.checkSession({ success: () => resolve(true), fail: () => resolve(false) });
  });
}

export interface SealedUserData {
  encryptedData: string;
  iv: string;
}

/**
 * wx.getUserProfile must be *called* inside a tap handler, before any await; WeChat answers
 * "getUserProfile:fail can only be invoked by user TAP gesture." otherwise.
 */
export function getUserProfile(desc: string): Promise<SealedUserData> {
  if (config.simulator) return simulator.getUserProfile();
  return new Promise((resolve, reject) => {
    wx.getUserProfile({
      desc,
      success: (res) => resolve({ encryptedData: res.encryptedData, iv: res.iv }),
      fail: (err) => reject(new WxError(err.errMsg)),
    });
  });
}

export const isTapGestureError = (err: unknown) => err instanceof WxError && /TAP gesture/i.test(err.errMsg);

export interface PayParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}

export type PaySheetResult = { ok: true } | { ok: false; cancelled: boolean; errMsg: string };

/** Shows WeChat's pay sheet. Its answer says what the user did, not whether money moved: ask the server. */
export function requestPayment(params: PayParams): Promise<PaySheetResult> {
  if (config.simulator) return simulator.requestPayment(params, config.simulator.appId);
  return new Promise((resolve) => {
    wx.requestPayment({
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType as 'MD5' | 'HMAC-SHA256',
      paySign: params.paySign,
      success: () => resolve({ ok: true }),
      fail: (err) => resolve({ ok: false, cancelled: /cancel/.test(err.errMsg), errMsg: err.errMsg }),
    });
  });
}

/** e.detail of `<button open-type="getPhoneNumber" bindgetphonenumber>` (base library 2.21.2+). */
export interface PhoneNumberDetail {
  errMsg?: string;
  /** One-time, 5 minutes; only when the user allowed it. */
  code?: string;
  /** 1400001: the mini-program has no quota left for phone numbers. */
  errno?: number;
}

export type PhoneButton =
  { ok: true; code: string } | { ok: false; reason: 'denied' | 'no-quota' | 'failed'; errMsg: string };

/** The code the button gave, or why there is none; nothing is sent for a button that gave none. */
export async function phoneCode(detail: PhoneNumberDetail): Promise<PhoneButton> {
  const errMsg = detail.errMsg ?? '';
  if (/deny|cancel/i.test(errMsg)) return { ok: false, reason: 'denied', errMsg };
  // DevTools' codes (when it gives any) are real WeChat's, which the simulator cannot redeem: it mints its own.
  if (config.simulator) return { ok: true, code: await simulator.phoneCode() };
  if (detail.code) return { ok: true, code: detail.code };
  if (detail.errno === 1400001) return { ok: false, reason: 'no-quota', errMsg };
  return { ok: false, reason: 'failed', errMsg };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
