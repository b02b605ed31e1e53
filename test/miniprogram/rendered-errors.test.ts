import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { MESSAGES } from '../../miniprogram/lib/messages';
import { bootRendered, type RenderedMiniProgram, type RenderedPage } from '../support/render';
import { startServer, type TestServer } from '../support/server';
import type { RecordedRequest } from '../support/wx-shim';

/** The codes the server sends: the committed schema's ErrorCode enum, which gql/graphql.ts is generated from. */
const SERVER_CODES = (
  buildSchema(readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8')).getType(
    'ErrorCode',
  ) as GraphQLEnumType
)
  .getValues()
  .map((v) => v.name);

/** The codes the mini-program gives a call that got no GraphQL answer (lib/graphql.ts ClientErrorCode). */
const CLIENT_CODES = ['NETWORK_ERROR', 'BAD_RESPONSE'];

/** The text the user should read for a code, and a check that it is one of its own. */
function messageFor(code: string): string {
  const text = (MESSAGES as Record<string, string | undefined>)[code];
  if (!text || !/\p{Script=Han}/u.test(text)) throw new Error(`${code} has no Chinese text in lib/messages.ts`);
  // Only INTERNAL_SERVER_ERROR may read as the generic text a code without a message falls back to.
  if (code !== 'INTERNAL_SERVER_ERROR' && text === MESSAGES.INTERNAL_SERVER_ERROR)
    throw new Error(`${code} reads as the generic INTERNAL_SERVER_ERROR text`);
  return text;
}

/** A GraphQL error answer as the server gives it: the client reads the code from the body, whatever the status. */
const graphqlError = (code: string, path: string, extensions: Record<string, unknown> = {}) => ({
  statusCode: 200,
  data: {
    errors: [{ message: `server text for ${code}`, path: [path], extensions: { code, ...extensions } }],
    data: null,
  },
});

/**
 * How each code reaches the phone. A server code comes as the server's error answer to this one operation (the shim
 * answers in its place); NETWORK_ERROR is wx.request failing, BAD_RESPONSE an answer that is not GraphQL (a proxy's
 * HTML page). Every other request goes to the real server.
 */
function failOperation(mp: RenderedMiniProgram, operation: RegExp, code: string, path: string) {
  const matches = (r: RecordedRequest) => operation.test(r.body?.query ?? '');
  if (code === 'NETWORK_ERROR') {
    mp.device.requestFault = (r) => (matches(r) ? 'request:fail timeout' : undefined);
    return;
  }
  mp.device.requestAnswer = (r) => {
    if (!matches(r)) return undefined;
    if (code === 'BAD_RESPONSE') return { statusCode: 502, data: '<html><body>502 Bad Gateway</body></html>' };
    return graphqlError(code, path);
  };
}

/** The page's error lines as rendered. */
const errorLines = (page: RenderedPage) => page.texts('view', 'error');

/**
 * Every code's message, rendered: each page that shows describeError's text, driven until the request the page makes
 * fails with that code, shows exactly MESSAGES[code] in its .error line. A code whose message is lost falls back to
 * the generic text, and a page that stops rendering the error shows none: either fails here.
 */
describe('mini-program error messages, rendered for every code', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  const ALL_CODES = [...SERVER_CODES, ...CLIENT_CODES];

  it('when the schema is read, then it lists the codes known to have come lately (the sweep below is not empty)', () => {
    expect(SERVER_CODES).toEqual(
      expect.arrayContaining([
        'FORBIDDEN',
        'ORDER_NOT_PAID',
        'REFUND_EXCEEDS_PAID',
        'REFUND_FAILED',
        'REFUNDS_DISABLED',
        'AVATAR_REVIEW_DISABLED',
      ]),
    );
    expect(new Set(ALL_CODES).size).toBe(ALL_CODES.length);
  });

  it.each(ALL_CODES)('when 重新登录 fails with %s, then the login page shows its message', async (code) => {
    const expected = messageFor(code);
    const mp = bootRendered(t);
    await mp.launch();
    const page = await mp.open('pages/login/login');
    expect(errorLines(page)).toEqual([]);
    failOperation(mp, /\bmutation Login\b/, code, 'login');
    await page.tap('重新登录');
    expect(errorLines(page)).toEqual([expected]);
    // The request did leave the phone and failed as intended (not some other request).
    const logins = mp.device.requestsOf('mutation Login');
    if (!CLIENT_CODES.includes(code)) expect(logins.at(-1)?.errorCodes).toEqual([code]);
  });

  it.each(ALL_CODES)('when loading 我的资料 fails with %s, then the profile page shows its message', async (code) => {
    const expected = messageFor(code);
    const mp = bootRendered(t);
    await mp.launch();
    failOperation(mp, /\bquery Me\b/, code, 'me');
    const page = await mp.open('pages/profile/profile');
    expect(errorLines(page)).toEqual([expected]);
    expect(page.text()).not.toContain('加载中');
  });

  it.each(ALL_CODES)('when paying ¥1.00 fails with %s, then the pay page shows its message', async (code) => {
    const expected = messageFor(code);
    const mp = bootRendered(t);
    await mp.launch();
    const page = await mp.open('pages/pay/pay');
    failOperation(mp, /\bmutation CreatePayment\b/, code, 'createPayment');
    await page.input(page.one('input', { class: 'amount' }), '1.00');
    await page.tap('支付');
    expect(errorLines(page)).toEqual([expected]);
    expect(page.all('view', { class: 'result' })).toEqual([]);
    expect(mp.device.calls.requestPayment).toBe(0);
  });

  // The codes whose text says more when the server's extensions do.
  it.each([
    ['RATE_LIMITED', { retryAfterSeconds: 42 }, '操作太频繁，请 42 秒后重试'],
    ['PAYMENT_FAILED', { wechatErrCode: 'NOTENOUGH', wechatErrMsg: '余额不足' }, '支付下单失败：余额不足'],
    ['CONTENT_RISKY', { label: 20002 }, '内容未通过微信安全检测（疑似色情），请修改后重试'],
    ['AVATAR_TOO_LARGE', { maxBytes: 2 * 1024 * 1024 }, '图片太大，请换一张不超过 2 MB 的图片'],
  ])('when %s carries %j, then the login page shows %s', async (code, extensions, expected) => {
    const mp = bootRendered(t);
    await mp.launch();
    const page = await mp.open('pages/login/login');
    mp.device.requestAnswer = (r) =>
      /\bmutation Login\b/.test(r.body?.query ?? '') ? graphqlError(code, 'login', extensions) : undefined;
    await page.tap('重新登录');
    expect(errorLines(page)).toEqual([expected]);
  });
});
