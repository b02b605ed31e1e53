import { AppError } from '../../src/core/errors';
import { parseTextVerdict } from '../../src/wechat/content-check.client';
import { normalizeNickname } from '../../src/profile/fill-in.service';

function refusal(status: number, text: string): AppError {
  try {
    parseTextVerdict(status, text);
  } catch (err) {
    return err as AppError;
  }
  throw new Error('parsed');
}

const v2 = (result: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ errcode: 0, errmsg: 'ok', result, detail: [], trace_id: 'trace-1', ...extra });

describe('parseTextVerdict', () => {
  it('when WeChat answers a verdict, then its suggest, label (a number, or a string of digits) and trace_id', () => {
    expect(parseTextVerdict(200, v2({ suggest: 'pass', label: 100 }))).toEqual({
      suggest: 'pass',
      label: 100,
      traceId: 'trace-1',
    });
    expect(parseTextVerdict(200, v2({ suggest: 'risky', label: '20002' }))).toEqual({
      suggest: 'risky',
      label: 20002,
      traceId: 'trace-1',
    });
    expect(parseTextVerdict(200, v2({ suggest: 'review', label: 'x' }, { trace_id: '' }))).toEqual({
      suggest: 'review',
    });
  });

  it("when WeChat answers version 1's 87014, then a risky verdict without a label", () => {
    expect(parseTextVerdict(200, JSON.stringify({ errcode: 87014, errmsg: 'risky content' }))).toEqual({
      suggest: 'risky',
    });
  });

  it.each([
    ['a 5xx', 502, '<html>Bad Gateway</html>', 'HTTP 502'],
    ['not JSON', 200, '<html>', 'non-JSON answer, HTTP 200'],
    ['JSON that is not an object', 200, '"ok"', 'non-JSON answer, HTTP 200'],
    ['no result', 200, JSON.stringify({ errcode: 0, errmsg: 'ok' }), 'answer without a known result.suggest'],
    ['an unknown suggest', 200, v2({ suggest: 'maybe', label: 100 }), 'answer without a known result.suggest'],
  ])(
    'when WeChat answers %s, then WECHAT_UNAVAILABLE naming msg_sec_check: no verdict lets nothing through',
    (_what, status, text, cause) => {
      const err = refusal(status, text);
      expect(err.code).toBe('WECHAT_UNAVAILABLE');
      expect(err.extensions).toEqual({ api: 'msg_sec_check' });
      expect(err.cause).toBe(cause);
    },
  );

  it.each([
    [-1, 'WECHAT_UNAVAILABLE'],
    [40001, 'WECHAT_UNAVAILABLE'],
    [40014, 'WECHAT_UNAVAILABLE'],
    [42001, 'WECHAT_UNAVAILABLE'],
    [40003, 'WECHAT_UNAVAILABLE'],
    [61010, 'WECHAT_UNAVAILABLE'],
    [44991, 'WECHAT_RATE_LIMITED'],
    [45009, 'WECHAT_RATE_LIMITED'],
    [45011, 'WECHAT_RATE_LIMITED'],
  ])('when WeChat answers errcode %d, then %s carrying the errcode (what withToken reads)', (errcode, code) => {
    const err = refusal(200, JSON.stringify({ errcode, errmsg: 'nope' }));
    expect(err.code).toBe(code);
    expect(err.extensions).toEqual({ api: 'msg_sec_check', wechatErrcode: errcode });
  });
});

describe('normalizeNickname', () => {
  it('when the nickname has spaces around it, then it is trimmed and otherwise kept as given (no normalization)', () => {
    // "é" as e + U+0301 stays two code points; NFC would make it one.
    expect(normalizeNickname('  e\u0301 🐱 \n')).toBe('e\u0301 🐱');
    expect(normalizeNickname('🐱'.repeat(32))).toBe('🐱'.repeat(32));
  });

  it.each([
    ['empty', ''],
    ['ideographic spaces only', '\u3000\u3000'],
    ['33 code points', 'é'.repeat(33)],
    ['a newline inside', 'a\nb'],
    ['a C1 control', 'a\u0085b'],
  ])(
    'when the nickname is %s, then BAD_USER_INPUT with extensions.field and without the nickname',
    (_what, nickname) => {
      let err: AppError | undefined;
      try {
        normalizeNickname(nickname);
      } catch (e) {
        err = e as AppError;
      }
      expect(err?.code).toBe('BAD_USER_INPUT');
      expect(err?.extensions).toEqual({ field: 'nickname' });
      if (nickname.trim()) expect(err?.message).not.toContain(nickname.trim());
    },
  );
});
