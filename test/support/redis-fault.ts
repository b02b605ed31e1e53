import { createClient } from '@redis/client';
import { ME, codeOf, startServer, type GqlResult, type TestServer } from './server';
import { CREATE_PAYMENT } from './pay';
import { redisNamespace, proxiedRedis, target } from './target';
import { eventually } from './eventually';

let nested = 0;

/**
 * A client of its own on the database TEST_REDIS_URL names, for a server that writes under a namespace of its own
 * (nested in the suite's, so it is deleted with it): fault tests read what the server really wrote (kv-redis.ts and cache.ts:
 * counters `<ns>:counter:<key>`, sessions `<ns>::sess:<hash>`) without other suites, benches or servers on that
 * database moving those keys.
 */
export async function redisDirect() {
  if (target.kind !== 'services') throw new Error('services only');
  const namespace = `${redisNamespace}.f${++nested}`;
  const client = createClient({ url: target.redisUrl });
  client.on('error', () => undefined);
  await client.connect();
  const keys = async (pattern: string) => {
    const found: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) found.push(...batch);
    return found.sort();
  };
  return {
    /** The server's REDIS_NAMESPACE. */
    namespace,
    /** Every rate-limit counter and its count, and the session keys (hashes of tokens) that exist. */
    async snapshot(): Promise<{ counters: Record<string, string>; sessions: string[] }> {
      const counters = await keys(`${namespace}:counter:*`);
      const values = counters.length ? await client.mGet(counters) : [];
      const sessions = await keys(`${namespace}::sess:*`);
      return { counters: Object.fromEntries(counters.map((k, i) => [k, String(values[i])])), sessions };
    },
    /** Deletes what the server wrote, and lets the client go. */
    async release() {
      try {
        const written = await keys(`${namespace}:*`);
        if (written.length) await client.del(written);
      } finally {
        client.destroy();
      }
    },
  };
}

export type RedisDirect = Awaited<ReturnType<typeof redisDirect>>;

/** One server whose Redis is behind a TcpProxy, under a Redis namespace of its own, and a direct client on that database. */
export async function serverBehindRedisProxy(cacheTimeoutMs: number) {
  if (target.kind !== 'services') throw new Error('services only');
  const { proxy, url: redisUrl } = await proxiedRedis();
  const direct = await redisDirect();
  const t = await startServer({
    env: {
      REDIS_URL: redisUrl,
      REDIS_NAMESPACE: direct.namespace,
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
