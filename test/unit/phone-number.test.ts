import { AppError } from '../../src/core/errors';
import { parsePhoneNumber } from '../../src/wechat/phone.client';

const APPID = 'wx1234567890abcdef';
const answer = (phoneInfo: unknown) => JSON.stringify({ errcode: 0, errmsg: 'ok', phone_info: phoneInfo });
const info = (over: Record<string, unknown> = {}) => ({
  phoneNumber: '13800138000',
  purePhoneNumber: '13800138000',
  countryCode: '86',
  watermark: { timestamp: 1700000000, appid: APPID },
  ...over,
});

function refusal(status: number, text: string): AppError {
  try {
    parsePhoneNumber(status, text, APPID);
  } catch (err) {
    return err as AppError;
  }
  throw new Error('parsed');
}

describe('parsePhoneNumber', () => {
  it('when countryCode comes as a string or as a number, then it is the string of digits', () => {
    expect(parsePhoneNumber(200, answer(info()), APPID)).toEqual({
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
    });
    expect(parsePhoneNumber(200, answer(info({ countryCode: 86 })), APPID).countryCode).toBe('86');
  });

  it.each([
    [40029, 'WECHAT_CODE_INVALID'],
    [45009, 'WECHAT_RATE_LIMITED'],
    [45011, 'WECHAT_RATE_LIMITED'],
    [-1, 'WECHAT_UNAVAILABLE'],
    [40001, 'WECHAT_UNAVAILABLE'],
    [40014, 'WECHAT_UNAVAILABLE'],
    [42001, 'WECHAT_UNAVAILABLE'],
    [41001, 'WECHAT_UNAVAILABLE'],
    [99999, 'WECHAT_UNAVAILABLE'],
  ])(
    'when WeChat answers errcode %d, then %s carrying the api and the errcode (what withToken reads)',
    (errcode, code) => {
      const err = refusal(200, JSON.stringify({ errcode, errmsg: 'x' }));
      expect(err).toBeInstanceOf(AppError);
      expect({ code: err.code, extensions: err.extensions }).toEqual({
        code,
        extensions: { api: 'getuserphonenumber', wechatErrcode: errcode },
      });
    },
  );

  const number = '13912345678';
  it.each([
    ['HTTP 502', 502, 'upstream'],
    ['not JSON', 200, '<html>'],
    ['JSON that is not an object', 200, '"ok"'],
    ['no phone_info', 200, JSON.stringify({ errcode: 0 })],
    ['no watermark', 200, answer(info({ phoneNumber: number, watermark: undefined }))],
    [
      'another appid in the watermark',
      200,
      answer(info({ phoneNumber: number, watermark: { appid: 'wxother', timestamp: 1 } })),
    ],
    ['no phoneNumber', 200, answer(info({ phoneNumber: undefined }))],
    ['a phoneNumber longer than 32', 200, answer(info({ phoneNumber: '1'.repeat(33) }))],
    ['no countryCode', 200, answer(info({ phoneNumber: number, countryCode: undefined }))],
    ['a countryCode longer than 8', 200, answer(info({ phoneNumber: number, countryCode: '123456789' }))],
    ['no purePhoneNumber', 200, answer(info({ phoneNumber: number, purePhoneNumber: null }))],
  ])(
    'when the answer has %s, then WECHAT_UNAVAILABLE naming the api, and the number is nowhere in the error',
    (_what, status, text) => {
      const err = refusal(status, text);
      expect(err.code).toBe('WECHAT_UNAVAILABLE');
      expect(err.extensions).toEqual({ api: 'getuserphonenumber' });
      expect(`${err.message} ${String(err.cause)} ${JSON.stringify(err.extensions)}`).not.toContain(number);
    },
  );
});
