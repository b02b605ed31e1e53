import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { createMemoryKeyValueStore } from '../../src/core/kv-memory';
import { AppError } from '../../src/core/errors';
import { createAccessTokenManager, isTokenRejected, parseStableToken } from '../../src/wechat/access-token';
import {
  createContentCheckClient,
  parseImageSubmit,
  parseTextVerdict,
  SCENE,
} from '../../src/wechat/content-check.client';
import { readWeChatJson } from '../../src/wechat/http';
import { createLoginClient, parseCode2Session } from '../../src/wechat/login.client';
import { createPhoneClient, parsePhoneNumber } from '../../src/wechat/phone.client';

/**
 * WeChat's JSON answers as they really come: WeChat's documented samples, the answers other SDKs' test suites serve,
 * and answers developers quoted from WeChat (test/fixtures/wechat-json/index.json names each one's source). Our
 * simulator writes what we think WeChat writes; this corpus checks the parsers against what others saw.
 */
type Api = 'jscode2session' | 'stable_token' | 'getuserphonenumber' | 'msg_sec_check' | 'media_check_async';

interface Expectation {
  /** The parser's answer, field for field. */
  result?: unknown;
  /** The AppError it throws instead. */
  error?: { code: string; extensions: Record<string, unknown>; tokenRejected?: boolean };
  /** getuserphonenumber: the AppID we are configured with (the watermark must name it). */
  appid?: string;
  /** media_check_async: fields readWeChatJson must hand over. */
  body?: Record<string, unknown>;
}

interface Fixture {
  file: string;
  description: string;
  source: { repository?: string; path?: string; commit?: string; doc?: string; page?: string; issue?: string };
  features: string[];
  errcode: number;
  contentType?: string;
  httpOnly?: boolean;
  expect: Partial<Record<Api, Expectation>>;
}

const dir = join(__dirname, '../fixtures/wechat-json');
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { messages: Fixture[] };
const text = (file: string) => readFileSync(join(dir, file), 'utf8');

/** Every (message, parser) pair the index asks for. */
const cases = index.messages.flatMap((m) =>
  (Object.entries(m.expect) as [Api, Expectation][]).map(([api, e]) => ({ name: `${m.file} → ${api}`, m, api, e })),
);

function thrown(run: () => unknown): AppError {
  try {
    run();
  } catch (err) {
    return err as AppError;
  }
  throw new Error('parsed without an error');
}

async function rejected(run: () => Promise<unknown>): Promise<AppError> {
  try {
    await run();
  } catch (err) {
    return err as AppError;
  }
  throw new Error('answered without an error');
}

function expectError(err: AppError, e: NonNullable<Expectation['error']>) {
  expect(err).toBeInstanceOf(AppError);
  expect({ code: err.code, extensions: err.extensions }).toEqual({ code: e.code, extensions: e.extensions });
  if (e.tokenRejected !== undefined) expect(isTokenRejected(err)).toBe(e.tokenRejected);
}

describe('the real-world WeChat JSON corpus', () => {
  it('when counted, then it holds real answers for every parser, each named by its source, and every file is indexed', () => {
    const real = index.messages.filter((m) => !m.features.includes('derived'));
    expect(real.length).toBeGreaterThanOrEqual(30);
    for (const m of index.messages) {
      const { repository, path, commit, doc, page, issue } = m.source;
      expect(Boolean(repository && path && commit) || Boolean(doc || page || issue)).toBe(true);
    }
    const files = readdirSync(dir).filter((f) => f !== 'index.json');
    expect(files.sort()).toEqual(index.messages.map((m) => m.file).sort());

    // The errcodes WeChat documents (and the undocumented 40163) for each API, each from a real answer.
    const errcodes = (api: Api) => new Set(real.filter((m) => m.expect[api] && m.errcode !== 0).map((m) => m.errcode));
    expect([...errcodes('jscode2session')]).toEqual(expect.arrayContaining([40029, 40163, 45011, 40226, -1]));
    expect([...errcodes('stable_token')]).toEqual(expect.arrayContaining([-1, 40013, 40125, 45009, 45011]));
    expect([...errcodes('getuserphonenumber')]).toEqual(expect.arrayContaining([40029, 40001, 42001, -1]));
    expect([...errcodes('msg_sec_check')]).toEqual(expect.arrayContaining([87014, 40001, 42001, -1]));
    for (const api of [
      'jscode2session',
      'stable_token',
      'getuserphonenumber',
      'msg_sec_check',
      'media_check_async',
    ] as Api[])
      expect(real.some((m) => m.expect[api] && !m.expect[api].error)).toBe(true);

    const features = new Set(index.messages.flatMap((m) => m.features));
    for (const f of [
      'errcode-absent',
      'errcode-zero',
      'extra-field',
      'country-code-number',
      'country-code-string',
      'text-plain',
      'bom',
      'escaped-slash',
      'non-ascii',
      'token-rejected',
      'v1',
    ])
      expect(features).toContain(f);
  });

  it.each(index.messages.filter((m) => !m.httpOnly).map((m) => [m.file, m] as const))(
    'when readWeChatJson reads %s, then it is an object with its errcode (0 when absent)',
    (_file, m) => {
      const { body, errcode } = readWeChatJson('corpus', 200, text(m.file));
      expect(errcode).toBe(m.errcode);
      expect(m.features.includes('errcode-absent')).toBe(!('errcode' in body));
      if (m.expect.media_check_async?.body) expect(body).toMatchObject(m.expect.media_check_async.body);
    },
  );

  const parsers: Record<Api, (raw: string, e: Expectation) => unknown> = {
    jscode2session: (raw) => parseCode2Session(200, raw),
    stable_token: (raw) => parseStableToken(200, raw),
    getuserphonenumber: (raw, e) => parsePhoneNumber(200, raw, e.appid!),
    msg_sec_check: (raw) => parseTextVerdict(200, raw),
    media_check_async: (raw) => parseImageSubmit(200, raw),
  };
  const parsed = cases.filter((c) => !c.m.httpOnly);

  it.each(parsed.map((c) => [c.name, c] as const))(
    'when %s is parsed, then it gives its fields exactly, or its error',
    (_name, { m, api, e }) => {
      const parse = () => parsers[api](text(m.file), e);
      if (e.error) expectError(thrown(parse), e.error);
      else expect(parse()).toEqual(e.result);
    },
  );
});

describe('the corpus over real HTTP, answered byte for byte by a local server', () => {
  let server: Server;
  let base: string;
  let answer: { bytes: Buffer; contentType: string } | undefined;
  const paths: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(new URL(req.url ?? '/', 'http://x').pathname);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': answer!.contentType, 'content-length': answer!.bytes.length });
        res.end(answer!.bytes);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const APPID = 'wx4f4bc4dec97d474b';
  const apiBase = () => base;
  const clients: Record<Api, { path: string; call: (e: Expectation) => Promise<unknown> }> = {
    jscode2session: {
      path: '/sns/jscode2session',
      call: () =>
        createLoginClient({ apiBase, appid: APPID, secret: 'corpus-secret', timeoutMs: 5000 }).code2Session('c'),
    },
    stable_token: {
      path: '/cgi-bin/stable_token',
      // The token manager's whole fetch (single attempt: a -1 is not retried here); withToken hands the token over.
      call: () =>
        createAccessTokenManager({
          kv: createMemoryKeyValueStore().for('access-token'),
          apiBase,
          appid: APPID,
          secret: 'corpus-secret',
          timeoutMs: 5000,
          logger: pino({ level: 'silent' }),
          maxAttempts: 1,
        }).withToken(async (token) => token),
    },
    getuserphonenumber: {
      path: '/wxa/business/getuserphonenumber',
      call: (e) => createPhoneClient({ apiBase, appid: e.appid!, timeoutMs: 5000 }).getPhoneNumber('token', 'code'),
    },
    msg_sec_check: {
      path: '/wxa/msg_sec_check',
      call: () =>
        createContentCheckClient({ apiBase, timeoutMs: 5000 }).checkText('token', '你好', 'openid', SCENE.profile),
    },
    media_check_async: {
      path: '/wxa/media_check_async',
      call: () =>
        createContentCheckClient({ apiBase, timeoutMs: 5000 }).submitImage(
          'token',
          'https://example.com/avatar.png',
          'openid',
          SCENE.profile,
        ),
    },
  };

  it.each(cases.map((c) => [c.name, c] as const))(
    'when WeChat answers %s, then the client gives its fields exactly, or its error',
    async (_name, { m, api, e }) => {
      const client = clients[api];
      answer = { bytes: readFileSync(join(dir, m.file)), contentType: m.contentType ?? 'application/json' };
      paths.length = 0;
      if (e.error) expectError(await rejected(() => client.call(e)), e.error);
      else {
        const got = await client.call(e);
        // The token manager answers the token itself; its lifetime is in the store, not in the answer.
        expect(got).toEqual(api === 'stable_token' ? (e.result as { accessToken: string }).accessToken : e.result);
      }
      expect(paths).toEqual([client.path]);
    },
  );
});
