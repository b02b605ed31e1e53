import { createClient } from '@redis/client';
import { ME, codeOf, startServer, type GqlResult, type TestServer } from './server';
import { CREATE_PAYMENT } from './pay';
import { TcpProxy } from './tcp-proxy';
import { target } from './target';
import { eventually } from './eventually';

const CLAIM_KEY = 'wxmp-test:claimed-by';

/**
 * A client of its own on a Redis logical database nobody else is using (empty, then claimed with a marker key, as
 * the bench claims its own), beside the server's: fault tests read what the server really wrote (cache.ts: counters
 * `wxmp:counter:<key>`, sessions `wxmp::sess:<hash>`) without suites or benches beside them moving those keys.
 */
export async function claimRedisDb(redisUrl: string) {
  const client = createClient({ url: redisUrl });
  client.on('error', () => undefined);
  await client.connect();
  const me = `${process.pid}@${Date.now()}@${Math.random()}`;
  let db = 0;
  for (const candidate of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    await client.select(candidate);
    if ((await client.dbSize()) !== 0) continue;
    if ((await client.set(CLAIM_KEY, me, { condition: 'NX', expiration: { type: 'EX', value: 3600 } })) === 'OK') {
      db = candidate;
      break;
    }
  }
  if (!db) throw new Error('no empty Redis database to claim');
  return {
    /** The server's REDIS_URL for this database, through a proxy on `port`. */
    urlThrough(port: number) {
      const u = new URL(redisUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      u.pathname = `/${db}`;
      return u.toString();
    },
    /** Every rate-limit counter and its count, and the session keys (hashes of tokens) that exist. */
    async snapshot(): Promise<{ counters: Record<string, string>; sessions: string[] }> {
      const keys = (await client.keys('wxmp:counter:*')).sort();
      const values = keys.length ? await client.mGet(keys) : [];
      const sessions = (await client.keys('wxmp::sess:*')).sort();
      return { counters: Object.fromEntries(keys.map((k, i) => [k, String(values[i])])), sessions };
    },
    /** Empties the database if it is still ours, and lets it go. */
    async release() {
      try {
        if ((await client.get(CLAIM_KEY)) === me) await client.flushDb();
      } finally {
        client.destroy();
      }
    },
  };
}

export type RedisDirect = Awaited<ReturnType<typeof claimRedisDb>>;

/** One server whose Redis is behind a TcpProxy, on a Redis database of its own, and a direct client on that database. */
export async function serverBehindRedisProxy(cacheTimeoutMs: number) {
  if (target.kind !== 'services') throw new Error('services only');
  const redisUrl = new URL(target.redisUrl);
  const proxy = new TcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  const port = await proxy.start();
  const direct = await claimRedisDb(target.redisUrl);
  const t = await startServer({
    env: {
      REDIS_URL: direct.urlThrough(port),
      CACHE_TIMEOUT_MS: String(cacheTimeoutMs),
      // Windows far longer than the test, so no counter expires between two snapshots.
      LOGIN_RATE_WINDOW_SECONDS: '3600',
      PAY_RATE_WINDOW_SECONDS: '3600',
    },
  });
  return {
    proxy,
    direct,
    t,
    async close() {
      await proxy.stop();
      await t.close();
      await direct.release();
    },
  };
}

export async function readyz(t: TestServer) {
  const res = await fetch(`${t.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function expectUnavailable(call: { result: GqlResult; ms: number }, withinMs: number) {
  expect(codeOf(call.result)).toBe('SERVICE_UNAVAILABLE');
  expect(call.result.data).toBeNull();
  expect(call.ms).toBeLessThan(withinMs);
}

/** After the fault: the same server, no restart, serves every user as before and takes new ones. */
export async function expectRecovered(t: TestServer, users: { token: string; openid: string }[]) {
  expect(await eventually(async () => (await readyz(t)).status === 200, 15000)).toBe(true);
  // Each user gets their own answer: a reply meant for another command would hand one user another's session.
  const answers = await Promise.all(users.map((u) => t.gql<{ me: { openid: string } }>(ME, {}, u.token)));
  expect(answers.map((a) => a.data?.me.openid)).toEqual(users.map((u) => u.openid));
  const c = await t.login();
  expect((await t.gql<{ me: { openid: string } }>(ME, {}, c.token)).data?.me.openid).toBe(c.openid);
  const pay = await t.gql<{ createPayment: { order: { status: string } } }>(CREATE_PAYMENT, { money: 1 }, c.token);
  expect(pay.data?.createPayment.order.status).toBe('PENDING');
}
