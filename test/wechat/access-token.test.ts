import { Writable } from 'node:stream';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { AppError } from '../../src/core/errors';
import { createKeyValueStore, type KeyValue, type KeyValueStore } from '../../src/core/kv';
import { createLogger } from '../../src/core/logger';
import { createMetrics, type Metrics } from '../../src/ops/metrics';
import { StableTokens } from '../../src/simulator/token.routes';
import {
  createAccessTokenManager,
  parseStableToken,
  type AccessTokenDeps,
  type AccessTokenManager,
} from '../../src/wechat/access-token';
import { timed } from '../support/eventually';
import { markServicesSuite } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { describeServices, onServices, redisNamespace, proxiedRedis, target } from '../support/target';
import { TcpProxy } from '../support/tcp-proxy';

// Real parts: the simulator over HTTP, the managers' shared store on real Redis (services) or in-process (embedded).
beforeAll(() => {
  if (onServices) markServicesSuite();
});

type Simulator = Awaited<ReturnType<typeof startStandaloneSimulator>>;

let sim: Simulator;
let stores: KeyValueStore[] = [];
let logs = '';
/** Every token a call was given: none of them may reach a log line. */
let seen: Set<string>;
let n = 0;

beforeEach(async () => {
  sim = await startStandaloneSimulator();
  logs = '';
  seen = new Set();
  n += 1;
});

afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
  await sim.close();
  expect(logs).not.toContain(SIMULATOR_IDENTITY.secret);
  for (const token of seen) expect(logs).not.toContain(token);
});

const logger = () =>
  createLogger('debug', new Writable({ write: (chunk: Buffer, _e, cb) => ((logs += chunk.toString()), cb()) }));

/**
 * `count` managers standing for `count` instances: on the services project each has a Redis connection of its own
 * to one namespace; on the embedded one they share the in-process store.
 */
function instances(
  count: number,
  options: Partial<AccessTokenDeps> & { base?: string } = {},
): { managers: AccessTokenManager[]; metrics: Metrics[]; kvs: KeyValue[] } {
  const namespace = `${redisNamespace}.token${n}`;
  const open = () =>
    createKeyValueStore({
      redisUrl: target.kind === 'services' ? target.redisUrl : undefined,
      timeoutMs: 2000,
      namespace,
      logger: logger(),
    });
  const shared = onServices ? undefined : open();
  if (shared) stores.push(shared);
  const managers: AccessTokenManager[] = [];
  const metrics: Metrics[] = [];
  const kvs: KeyValue[] = [];
  for (let i = 0; i < count; i += 1) {
    const store = shared ?? open();
    if (!shared) stores.push(store);
    kvs.push(store.for('access-token'));
    const m = createMetrics();
    metrics.push(m);
    const base = options.base ?? sim.base;
    managers.push(
      createAccessTokenManager({
        kv: kvs[i],
        apiBase: () => base,
        appid: SIMULATOR_IDENTITY.appid,
        secret: SIMULATOR_IDENTITY.secret,
        timeoutMs: 2000,
        metrics: m,
        logger: logger(),
        backoffMs: 20,
        ...options,
      }),
    );
  }
  return { managers, metrics, kvs };
}

/** A real API that takes the token (getApiDomainIp), with its errcode reported as API clients report it. */
async function domainIp(accessToken: string, base = sim.base): Promise<string[]> {
  // The bad tokens some tests send on purpose ('', 'not-a-token') are too short to be looked for in logs.
  if (accessToken.length >= 32) seen.add(accessToken);
  const res = await fetch(`${base}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(accessToken)}`);
  const body = JSON.parse(await res.text()) as { errcode?: number; ip_list?: string[] };
  if (body.errcode)
    throw new AppError('WECHAT_UNAVAILABLE', undefined, { api: 'get_api_domain_ip', wechatErrcode: body.errcode });
  return body.ip_list!;
}

const tokenOf = (m: AccessTokenManager) =>
  m.withToken(async (t) => {
    seen.add(t);
    return t;
  });

async function calls(): Promise<number> {
  const res = await fetch(`${sim.base}/dev/stable-token`);
  return ((await res.json()) as { calls: number }).calls;
}

async function dev(path: string, body: unknown = {}) {
  const res = await fetch(`${sim.base}/dev/stable-token/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

async function stableToken(body: Record<string, unknown>) {
  const res = await fetch(`${sim.base}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return JSON.parse(await res.text()) as {
    access_token?: string;
    expires_in?: number;
    errcode?: number;
    errmsg?: string;
  };
}

const fetches = async (m: Metrics, outcome: string) =>
  (await m.accessTokenFetches.get()).values
    .filter((v) => v.labels.outcome === outcome)
    .reduce((s, v) => s + v.value, 0);

const credentials = {
  grant_type: 'client_credential',
  appid: SIMULATOR_IDENTITY.appid,
  secret: SIMULATOR_IDENTITY.secret,
};

describe('the simulated POST /cgi-bin/stable_token', () => {
  it('when called twice in normal mode, then it answers the same token with its remaining lifetime, which an API accepts', async () => {
    const first = await stableToken(credentials);
    const second = await stableToken({ ...credentials, force_refresh: false });
    expect(first.access_token).toEqual(expect.any(String));
    expect(second.access_token).toBe(first.access_token);
    expect(first.expires_in).toBeLessThanOrEqual(7200);
    expect(first.expires_in).toBeGreaterThan(7190);
    expect(await domainIp(first.access_token!)).toEqual(expect.any(Array));
    expect(await calls()).toBe(2);
  });

  it('when the appid, secret or grant_type is wrong or missing, or it is a GET, then it answers WeChat errcodes', async () => {
    expect((await stableToken({ ...credentials, secret: 'wrong' })).errcode).toBe(40125);
    expect((await stableToken({ ...credentials, appid: 'wx0000000000000bad' })).errcode).toBe(40013);
    expect((await stableToken({ ...credentials, grant_type: 'authorization_code' })).errcode).toBe(40002);
    expect((await stableToken({ grant_type: 'client_credential', secret: 's' })).errcode).toBe(41002);
    expect((await stableToken({ grant_type: 'client_credential', appid: SIMULATOR_IDENTITY.appid })).errcode).toBe(
      41004,
    );
    const get = await fetch(`${sim.base}/cgi-bin/stable_token`);
    expect((JSON.parse(await get.text()) as { errcode: number }).errcode).toBe(43002);
    // The token endpoint that knocks other instances out is not served at all.
    expect((await fetch(`${sim.base}/cgi-bin/token?grant_type=client_credential`)).status).toBe(404);
  });

  it('when the token is within 5 minutes of expiry, then a call rotates it, the old one works until its own expiry and then answers 42001', async () => {
    const old = (await stableToken(credentials)).access_token!;
    await dev('age', { seconds: 7200 - 299 });
    const rotated = await stableToken(credentials);
    expect(rotated.access_token).not.toBe(old);
    expect(rotated.expires_in).toBeGreaterThan(7190);
    expect(await domainIp(old)).toEqual(expect.any(Array));
    await dev('age', { seconds: 300 });
    await expect(domainIp(old)).rejects.toMatchObject({ extensions: { wechatErrcode: 42001 } });
    expect(await domainIp(rotated.access_token!)).toEqual(expect.any(Array));
  });

  it('when force_refresh is used, then the old token answers 40001, and a second one within 30 s is refused with 45011', async () => {
    const old = (await stableToken(credentials)).access_token!;
    const forced = await stableToken({ ...credentials, force_refresh: true });
    expect(forced.access_token).not.toBe(old);
    await expect(domainIp(old)).rejects.toMatchObject({ extensions: { wechatErrcode: 40001 } });
    expect(await domainIp(forced.access_token!)).toEqual(expect.any(Array));
    expect((await stableToken({ ...credentials, force_refresh: true })).errcode).toBe(45011);
  });

  it('when the dev endpoints expire or revoke the token, or no token is sent, then APIs answer 42001, 40001 and 41001', async () => {
    const first = (await stableToken(credentials)).access_token!;
    await dev('expire');
    await expect(domainIp(first)).rejects.toMatchObject({ extensions: { wechatErrcode: 42001 } });
    const second = (await stableToken(credentials)).access_token!;
    expect(second).not.toBe(first);
    await dev('revoke');
    await expect(domainIp(second)).rejects.toMatchObject({ extensions: { wechatErrcode: 40001 } });
    await expect(domainIp('')).rejects.toMatchObject({ extensions: { wechatErrcode: 41001 } });
    await expect(domainIp('not-a-token')).rejects.toMatchObject({ extensions: { wechatErrcode: 40001 } });
  });
});

describe('the access_token manager', () => {
  it('when N instances start cold under concurrent load, then they make exactly one stable_token call and all use its token', async () => {
    const { managers, metrics } = instances(5);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        managers[i % managers.length].withToken(async (t) => (await domainIp(t), t)),
      ),
    );
    expect(new Set(answers).size).toBe(1);
    expect(await calls()).toBe(1);
    let ok = 0;
    for (const m of metrics) ok += await fetches(m, 'ok');
    expect(ok).toBe(1);
  });

  it('when the token nears expiry, then it is replaced ahead of it: the old one is used meanwhile, then the new one, with one more call', async () => {
    let offsetMs = 0;
    const { managers } = instances(2, { now: () => Date.now() + offsetMs });
    const [a, b] = managers;
    const old = await tokenOf(a);
    expect(await tokenOf(b)).toBe(old);
    // Both clocks move on to 200 s before expiry: inside WeChat's rotation window and our refresh margin.
    await dev('age', { seconds: 7200 - 200 });
    offsetMs = (7200 - 200) * 1000;
    expect(await tokenOf(a)).toBe(old);
    let fresh = old;
    for (let i = 0; i < 100 && fresh === old; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      fresh = await tokenOf(a);
    }
    expect(fresh).not.toBe(old);
    expect(await tokenOf(b)).toBe(fresh);
    expect(await domainIp(fresh)).toEqual(expect.any(Array));
    expect(await calls()).toBe(2);
  });

  it('when the token has expired, then the next call fetches a new one before it runs', async () => {
    let offsetMs = 0;
    const [m] = instances(1, { now: () => Date.now() + offsetMs }).managers;
    const old = await tokenOf(m);
    await dev('age', { seconds: 7200 });
    offsetMs = 7200 * 1000;
    const fresh = await m.withToken(async (t) => (await domainIp(t), t));
    expect(fresh).not.toBe(old);
    expect(await calls()).toBe(2);
  });

  it('when a call is refused with 40001 or 42001, then the token is fetched once more and the call retried once, and succeeds', async () => {
    const [m] = instances(1).managers;
    await tokenOf(m);
    await dev('revoke');
    expect(await m.withToken((t) => domainIp(t))).toEqual(expect.any(Array));
    expect(await calls()).toBe(2);
    await dev('expire');
    expect(await m.withToken((t) => domainIp(t))).toEqual(expect.any(Array));
    expect(await calls()).toBe(3);
  });

  it('when the token is revoked mid-traffic across instances, then there is exactly one refresh and every request succeeds', async () => {
    const { managers } = instances(3);
    await Promise.all(managers.map(tokenOf));
    expect(await calls()).toBe(1);
    await dev('revoke');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => managers[i % 3].withToken((t) => domainIp(t))),
    );
    expect(answers).toHaveLength(30);
    expect(await calls()).toBe(2);
  });

  it('when an instance reports a stale token after another already replaced it, then the newer token is kept and no fetch is made', async () => {
    const [a, b, c] = instances(3).managers;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const given: string[] = [];
    let held!: () => void;
    const holding = new Promise<void>((r) => (held = r));
    // b holds the first token in a slow call while it is revoked and a replaces it.
    const slow = b.withToken(async (t) => {
      given.push(t);
      if (given.length === 1) {
        held();
        await gate;
      }
      return domainIp(t);
    });
    await holding;
    const first = given[0];
    await dev('revoke');
    await a.withToken((t) => domainIp(t));
    const newer = await tokenOf(c);
    expect(newer).not.toBe(first);
    expect(await calls()).toBe(2);
    release();
    expect(await slow).toEqual(expect.any(Array));
    expect(given).toEqual([first, newer]);
    expect(await tokenOf(c)).toBe(newer);
    expect(await calls()).toBe(2);
  });

  it('when a call fails for another reason, then the token is kept and the error is the call’s', async () => {
    const [m] = instances(1).managers;
    await expect(
      m.withToken(async () => {
        throw new AppError('WECHAT_CODE_INVALID', undefined, { wechatErrcode: 40029 });
      }),
    ).rejects.toMatchObject({ code: 'WECHAT_CODE_INVALID' });
    await tokenOf(m);
    expect(await calls()).toBe(1);
  });

  it('when stable_token answers -1, then it is retried with a short backoff; when it stays busy, the answer is WECHAT_UNAVAILABLE', async () => {
    const { managers, metrics } = instances(1, { maxAttempts: 3 });
    await dev('fail', { errcodes: [-1, -1] });
    expect(await managers[0].withToken((t) => domainIp(t))).toEqual(expect.any(Array));
    expect(await calls()).toBe(3);
    expect(await fetches(metrics[0], 'WECHAT_UNAVAILABLE')).toBe(2);
    expect(await fetches(metrics[0], 'ok')).toBe(1);

    // The API refuses the expired token, and every fetch of a new one finds WeChat busy.
    await dev('expire');
    await dev('fail', { errcodes: [-1, -1, -1] });
    await expect(managers[0].withToken((t) => domainIp(t))).rejects.toMatchObject({
      code: 'WECHAT_UNAVAILABLE',
      extensions: { api: 'stable_token', wechatErrcode: -1 },
    });
    expect(await calls()).toBe(6);
    // Nothing is kept of the failure: the next call fetches again.
    expect(await managers[0].withToken((t) => domainIp(t))).toEqual(expect.any(Array));
  });

  it('when the secret is wrong, then the answer is WECHAT_UNAVAILABLE naming stable_token and 40125, with neither secret nor token in it', async () => {
    const secret = 'wrong-secret-0123456789abcdef';
    const [m] = instances(1, { secret }).managers;
    const err = await tokenOf(m).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      code: 'WECHAT_UNAVAILABLE',
      extensions: { api: 'stable_token', wechatErrcode: 40125 },
    });
    const text = `${err!.message} ${JSON.stringify(err!.extensions)} ${String(err!.cause)}`;
    expect(text).not.toContain(secret);
    expect(logs).not.toContain(secret);
    expect(await calls()).toBe(1);
  });

  it('when WeChat freezes, then every instance gets a bounded WECHAT_UNAVAILABLE, and on thaw the same instances recover without restart', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(sim.base).port) });
    const port = await proxy.start();
    const timeoutMs = 500;
    try {
      const [a, b] = instances(2, { base: `http://127.0.0.1:${port}`, timeoutMs }).managers;
      proxy.freeze();
      const [ra, rb] = await Promise.all(
        [a, b].map((m) =>
          timed(() =>
            tokenOf(m).then(
              () => 'ok',
              (e: AppError) => e.code,
            ),
          ),
        ),
      );
      expect(ra.result).toBe('WECHAT_UNAVAILABLE');
      expect(rb.result).toBe('WECHAT_UNAVAILABLE');
      // One timeout each at most: timeouts are not retried, and a waiter answers its refresher's failure.
      expect(Math.max(ra.ms, rb.ms)).toBeLessThan(2 * timeoutMs + 1500);
      proxy.thaw();
      const token = await tokenOf(a);
      expect(await tokenOf(b)).toBe(token);
      expect(await domainIp(token)).toEqual(expect.any(Array));
    } finally {
      await proxy.stop();
    }
  });

  it('when a refresh ahead of expiry fails, then the current token is still used, and no other try is made for a while', async () => {
    let offsetMs = 0;
    const [m] = instances(1, { now: () => Date.now() + offsetMs }).managers;
    const old = await tokenOf(m);
    await dev('age', { seconds: 7200 - 200 });
    offsetMs = (7200 - 200) * 1000;
    await dev('fail', { errcodes: [-1, -1, -1] });
    expect(await tokenOf(m)).toBe(old);
    for (let i = 0; i < 100 && !logs.includes('refresh ahead of expiry failed'); i += 1)
      await new Promise((r) => setTimeout(r, 20));
    expect(logs).toContain('refresh ahead of expiry failed');
    expect(await calls()).toBe(4);
    expect(await m.withToken((t) => domainIp(t))).toEqual(expect.any(Array));
    expect(await calls()).toBe(4);
  });

  it('when a refresher died holding the lock, then another instance waits for the lock to end and then fetches', async () => {
    const { managers, kvs } = instances(1);
    expect(await kvs[0].acquire(`stable-token:${SIMULATOR_IDENTITY.appid}`, 500)).toEqual(expect.any(String));
    const pending = managers[0].withToken((t) => domainIp(t));
    await new Promise((r) => setTimeout(r, 200));
    expect(await calls()).toBe(0);
    expect(await pending).toEqual(expect.any(Array));
    expect(await calls()).toBe(1);
  });

  it('when the lock stays held past every refresher’s bound, then the wait ends with WECHAT_UNAVAILABLE, and the next call after it fetches', async () => {
    const { managers, kvs } = instances(1, { timeoutMs: 100, maxAttempts: 1 });
    const lock = (await kvs[0].acquire(`stable-token:${SIMULATOR_IDENTITY.appid}`, 60_000))!;
    const { result, ms } = await timed(() =>
      tokenOf(managers[0]).then(
        () => 'ok',
        (e: AppError) => e.code,
      ),
    );
    expect(result).toBe('WECHAT_UNAVAILABLE');
    expect(ms).toBeLessThan(5000);
    expect(await calls()).toBe(0);
    expect(await kvs[0].release(`stable-token:${SIMULATOR_IDENTITY.appid}`, lock)).toBe(true);
    expect(await managers[0].withToken((t) => domainIp(t))).toEqual(expect.any(Array));
    expect(await calls()).toBe(1);
  });
});

describe('stable_token answers, parsed', () => {
  it('when WeChat answers 5xx, a body that is not JSON, or no token, then it is WECHAT_UNAVAILABLE naming stable_token', () => {
    for (const [status, text] of [
      [502, '<html>Bad Gateway</html>'],
      [200, '<html>not json'],
      [200, '"a string"'],
      [200, '{"expires_in":7200}'],
      [200, '{"access_token":"x","expires_in":0}'],
      [200, '{"errcode":89503,"errmsg":"need admin confirmation"}'],
    ] as const) {
      let thrown: unknown;
      try {
        parseStableToken(status, text);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(AppError);
      expect(thrown).toMatchObject({ code: 'WECHAT_UNAVAILABLE', extensions: { api: 'stable_token' } });
    }
    // WeChat labels it text/plain at times: the body is read as JSON whatever the header.
    expect(parseStableToken(200, '{"access_token":"90_abc","expires_in":7200}')).toEqual({
      accessToken: '90_abc',
      expiresIn: 7200,
    });
  });
});

describe('the simulated force_refresh quota', () => {
  it('when force_refresh is used 20 times a day 30 s apart, then the 21st is refused with 45009 until a day has passed', () => {
    let clock = 0;
    const tokens = new StableTokens(() => clock);
    const issued = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      const answer = tokens.stable(true);
      expect(answer).toHaveProperty('accessToken');
      issued.add((answer as { accessToken: string }).accessToken);
      clock += 31_000;
    }
    expect(issued.size).toBe(20);
    expect(tokens.stable(true)).toEqual({ errcode: 45009 });
    // Normal mode is not limited, and answers the last forced token.
    expect(tokens.stable(false)).toMatchObject({ accessToken: [...issued].at(-1) });
    clock += 24 * 60 * 60 * 1000;
    expect(tokens.stable(true)).toHaveProperty('accessToken');
  });
});

describeServices('the access_token manager with its store frozen', () => {
  it('when Redis freezes, then a call answers SERVICE_UNAVAILABLE within the store’s bound, and works again on thaw', async () => {
    if (target.kind !== 'services') return;
    const { proxy, url: redisUrl } = await proxiedRedis();
    const store = createKeyValueStore({
      redisUrl,
      timeoutMs: 300,
      namespace: `${redisNamespace}.frozen`,
      logger: logger(),
    });
    stores.push(store);
    const m = createAccessTokenManager({
      kv: store.for('access-token'),
      apiBase: () => sim.base,
      appid: SIMULATOR_IDENTITY.appid,
      secret: SIMULATOR_IDENTITY.secret,
      timeoutMs: 2000,
      logger: logger(),
    });
    try {
      expect(await m.withToken((t) => domainIp(t))).toEqual(expect.any(Array));
      proxy.freeze();
      const { result, ms } = await timed(() =>
        tokenOf(m).then(
          () => 'ok',
          (e: AppError) => e.code,
        ),
      );
      expect(result).toBe('SERVICE_UNAVAILABLE');
      expect(ms).toBeLessThan(2000);
      proxy.thaw();
      let answer: unknown;
      for (let i = 0; i < 100 && !Array.isArray(answer); i += 1) {
        answer = await m.withToken((t) => domainIp(t)).catch(() => undefined);
        if (!Array.isArray(answer)) await new Promise((r) => setTimeout(r, 50));
      }
      expect(answer).toEqual(expect.any(Array));
      // The token cached before the freeze is still the one used: no second fetch.
      expect(await calls()).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
