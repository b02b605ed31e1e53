import { AppError, type ErrorCode } from '../core/errors';
import { TOKEN_REJECTED_ERRCODES } from './access-token';
import { callWeChat, observed, readWeChatJson, type CallObserver } from './http';

const API = 'getuserphonenumber';

/** The user's phone number as WeChat gives it. Personal data: never log it, never put it in an error. */
export interface PhoneNumber {
  /** With the country code for numbers outside China (`+1 2025550123`), as WeChat writes it. */
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
}

export interface PhoneClientOptions {
  /** e.g. https://api.weixin.qq.com, or the simulator's base. Read per call: the simulator's is known only after listen. */
  apiBase: () => string;
  /** The AppID the answer's watermark must carry. */
  appid: string;
  timeoutMs: number;
  onCall?: CallObserver;
}

/** The message a client gets for a phone code WeChat refused (ERROR_CODES' text speaks of the login code). */
const CODE_INVALID_MESSAGE =
  'The phone code is invalid, expired or already used: ask the user to tap the phone number button again.';

/** getuserphonenumber's errcodes, mapped to ours. Anything unlisted is WeChat misbehaving. */
const ERRCODES: Record<number, ErrorCode> = {
  40029: 'WECHAT_CODE_INVALID',
  45009: 'WECHAT_RATE_LIMITED',
  45011: 'WECHAT_RATE_LIMITED',
  [-1]: 'WECHAT_UNAVAILABLE',
};

/** Stored lengths (User.phoneNumber, User.phoneCountryCode): an answer that does not fit is not a phone number. */
export const PHONE_NUMBER_MAX = 32;
export const COUNTRY_CODE_MAX = 8;

export function createPhoneClient(opts: PhoneClientOptions) {
  return {
    /**
     * phonenumber.getPhoneNumber: exchanges a getPhoneNumber button's one-time code for the user's number. Run it
     * through the access_token manager's withToken: a refused token is reported with extensions.wechatErrcode.
     */
    async getPhoneNumber(accessToken: string, code: string, openid?: string): Promise<PhoneNumber> {
      const query = new URLSearchParams({ access_token: accessToken });
      const body = JSON.stringify(openid ? { code, openid } : { code });
      return observed(API, opts.onCall, async () => {
        const res = await callWeChat(
          `${opts.apiBase()}/wxa/business/getuserphonenumber?${query}`,
          { method: 'POST', headers: { 'content-type': 'application/json' }, body },
          opts.timeoutMs,
          API,
        );
        return parsePhoneNumber(res.status, res.text, opts.appid);
      });
    },
  };
}

export type PhoneClient = ReturnType<typeof createPhoneClient>;

const unavailable = (cause: string, extra: Record<string, unknown> = {}) =>
  new AppError('WECHAT_UNAVAILABLE', undefined, { api: API, ...extra }, { cause });

/**
 * The answer, parsed whatever its Content-Type. Causes name what was wrong, never the number itself.
 * A token WeChat refused (40001/40014/42001) is WECHAT_UNAVAILABLE carrying its errcode, which withToken retries.
 */
export function parsePhoneNumber(status: number, text: string, appid: string): PhoneNumber {
  const { body, errcode } = readWeChatJson(API, status, text);
  if (errcode !== 0) {
    const code = TOKEN_REJECTED_ERRCODES.has(errcode)
      ? 'WECHAT_UNAVAILABLE'
      : (ERRCODES[errcode] ?? 'WECHAT_UNAVAILABLE');
    throw new AppError(
      code,
      code === 'WECHAT_CODE_INVALID' ? CODE_INVALID_MESSAGE : undefined,
      { api: API, wechatErrcode: errcode },
      { cause: `${API} errcode ${errcode}: ${String(body.errmsg)}` },
    );
  }
  const info = body.phone_info as Record<string, unknown> | undefined;
  if (typeof info !== 'object' || info === null) throw unavailable('answer without phone_info');
  const watermark = info.watermark as { appid?: unknown } | undefined;
  // The number is for the AppID the token belongs to: one for another app is not this user's to store.
  if (watermark?.appid !== appid) throw unavailable('phone_info watermark names another appid or none');
  const { phoneNumber, purePhoneNumber } = info;
  // countryCode comes as a string or a number.
  const countryCode = typeof info.countryCode === 'number' ? String(info.countryCode) : info.countryCode;
  if (
    typeof phoneNumber !== 'string' ||
    !phoneNumber ||
    phoneNumber.length > PHONE_NUMBER_MAX ||
    typeof purePhoneNumber !== 'string' ||
    typeof countryCode !== 'string' ||
    !countryCode ||
    countryCode.length > COUNTRY_CODE_MAX
  ) {
    throw unavailable('phone_info without a usable phoneNumber or countryCode');
  }
  return { phoneNumber, purePhoneNumber, countryCode };
}
