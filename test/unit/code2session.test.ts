import { parseCode2Session } from '../../src/wechat/login.client';
import { AppError } from '../../src/core/errors';

const codeOf = (status: number, text: string) => {
  try {
    parseCode2Session(status, text);
    return 'no error';
  } catch (e) {
    return (e as AppError).code;
  }
};

describe('parseCode2Session', () => {
  it('when WeChat answers a session, then openid, session_key and unionid are read', () => {
    expect(parseCode2Session(200, '{"session_key":"a2V5a2V5a2V5a2V5a2V5aw==","openid":"oX","unionid":"uY"}')).toEqual({
      openid: 'oX',
      sessionKey: 'a2V5a2V5a2V5a2V5a2V5aw==',
      unionid: 'uY',
    });
    expect(parseCode2Session(200, '{"session_key":"k","openid":"oX"}').unionid).toBeUndefined();
  });

  it.each([
    [40029, 'WECHAT_CODE_INVALID'],
    [40163, 'WECHAT_CODE_INVALID'],
    [45009, 'WECHAT_RATE_LIMITED'],
    [45011, 'WECHAT_RATE_LIMITED'],
    [40226, 'WECHAT_RISKY_USER'],
    [-1, 'WECHAT_UNAVAILABLE'],
    [40013, 'WECHAT_UNAVAILABLE'],
  ])('when errcode is %i, then the code is %s', (errcode, code) => {
    expect(codeOf(200, JSON.stringify({ errcode, errmsg: 'x' }))).toBe(code);
  });

  it('when the body is not JSON, is not an object, lacks fields, or the status is 5xx, then WECHAT_UNAVAILABLE', () => {
    expect(codeOf(200, '<html>')).toBe('WECHAT_UNAVAILABLE');
    expect(codeOf(200, '"str"')).toBe('WECHAT_UNAVAILABLE');
    expect(codeOf(200, 'null')).toBe('WECHAT_UNAVAILABLE');
    expect(codeOf(200, '{"openid":"oX"}')).toBe('WECHAT_UNAVAILABLE');
    expect(codeOf(502, '{"session_key":"k","openid":"oX"}')).toBe('WECHAT_UNAVAILABLE');
  });
});
