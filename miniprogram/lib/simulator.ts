import { config } from '../config';
import type { PayParams, PaySheetResult, SealedUserData } from './wx-async';
import { postJson, WxError } from './http';

/**
 * The phone's side of the server's WeChat simulator (its /simulator/dev endpoints), for running the mini-program in
 * DevTools without a real AppID. Used only when config.simulator is set; see config.ts.
 */

const OPENID_KEY = 'wxmp.simulatorOpenid';

async function dev<T>(path: string, body: object): Promise<T> {
  const res = await postJson(`${config.baseUrl}/simulator/dev/${path}`, body, {});
  if (res.statusCode !== 200 && !(res.data && typeof res.data === 'object' && 'errMsg' in res.data)) {
    throw new WxError(`simulator ${path}:fail HTTP ${res.statusCode}`);
  }
  return res.data as T;
}

/** Plays wx.login: one simulated WeChat user per phone, created by its first login. */
export async function login(): Promise<string> {
  const stored: unknown = wx.getStorageSync(OPENID_KEY);
  const { code, openid } = await dev<{ code: string; openid: string }>(
    'login-code',
    typeof stored === 'string' && stored ? { openid: stored } : {},
  );
  wx.setStorageSync(OPENID_KEY, openid);
  return code;
}

/** Plays wx.getUserProfile: WeChat's anonymous profile, sealed with the user's current session_key. */
export async function getUserProfile(): Promise<SealedUserData> {
  const openid: unknown = wx.getStorageSync(OPENID_KEY);
  if (typeof openid !== 'string' || !openid) throw new WxError('getUserProfile:fail not logged in to the simulator');
  return dev<SealedUserData>('user-data', { openid });
}

/** Plays wx.requestPayment: the simulated user pays at once and the simulator sends WeChat's notify. */
export async function requestPayment(params: PayParams, appId: string): Promise<PaySheetResult> {
  const { errMsg } = await dev<{ errMsg: string }>('request-payment', { appId, ...params });
  return errMsg === 'requestPayment:ok' ? { ok: true } : { ok: false, cancelled: /cancel/.test(errMsg), errMsg };
}

/** Plays `<button open-type="getPhoneNumber">`: a one-time code for the simulated user's number. */
export async function phoneCode(): Promise<string> {
  const openid: unknown = wx.getStorageSync(OPENID_KEY);
  if (typeof openid !== 'string' || !openid) throw new WxError('getPhoneNumber:fail not logged in to the simulator');
  return (await dev<{ code: string }>('phone-code', { openid })).code;
}
