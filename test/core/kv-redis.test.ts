import { createClient } from '@redis/client';
import { Writable } from 'node:stream';
import { createKeyValueStore, type KeyValueStore } from '../../src/core/kv';
import { createLogger } from '../../src/core/logger';
import { describeServices, onServices, redisNamespace, redisUrlVia, target } from '../support/target';
import { markServicesSuite } from '../support/server';
import { createCache } from '../../src/core/cache';
import { TcpProxy } from '../support/tcp-proxy';

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

/** Waits until Redis itself says `key` is gone (its own clock ends the TTL), rather than sleeping a guessed time. */
async function untilGone(raw: ReturnType<typeof createClient>, key: string, ms = 5000) {
  const until = Date.now() + ms;
  while ((await raw.exists(key)) === 1) {
    if (Date.now() > until) throw new Error(`${key} did not expire within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Two stores, each with its own connection, stand for two instances sharing one Redis.
describeServices('key-value store in Redis, shared by two instances', () => {
  const namespace = `${redisNamespace}.kv`;
  let a: KeyValueStore;
  let b: KeyValueStore;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    if (target.kind !== 'services') return;
    const redisUrl = target.redisUrl;
    const open = () => createKeyValueStore({ redisUrl, timeoutMs: 2000, namespace, logger: silent() });
    a = open();
    b = open();
    raw = createClient({ url: target.redisUrl });
    await raw.connect();
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    if (target.kind !== 'services') return;
    await Promise.all([a.close(), b.close()]);
    for await (const keys of raw.scanIterator({ MATCH: `${namespace}:*` })) if (keys.length) await raw.del(keys);
    raw.destroy();
  });

  it('when one instance sets a value with a TTL, then the other reads it, under the namespace, until Redis expires it', async () => {
    await a.for('test').set('v1', { openid: 'o', n: 2 }, 300);
    expect(await b.for('test').get('v1')).toEqual({ openid: 'o', n: 2 });
    expect(await raw.pTTL(`${namespace}:value:v1`)).toBeGreaterThan(0);
    await untilGone(raw, `${namespace}:value:v1`);
    expect(await b.for('test').get('v1')).toBeUndefined();

    await a.for('test').set('v2', 'x', 60_000);
    await b.for('test').delete('v2');
    expect(await a.for('test').get('v2')).toBeUndefined();
    expect(await raw.exists(`${namespace}:value:v2`)).toBe(0);
  });

  it('when both instances hit one counter at once, then every hit counts once: the answers are 1..N and the window has an expiry', async () => {
    const n = 200;
    const hits = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? a : b).for('rate-limit').increment('burst', 60_000)),
    );
    expect(hits.map((h) => h.count).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const h of hits) expect(h.resetInMs).toBeGreaterThan(0);
    expect(await raw.get(`${namespace}:counter:burst`)).toBe(String(n));
    const ttl = await raw.pTTL(`${namespace}:counter:burst`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('when a hit is handed back inside its window, then the count drops and the window keeps its expiry; after the window it leaves no key', async () => {
    const ops = a.for('rate-limit');
    await ops.increment('back', 500);
    await ops.increment('back', 500);
    const back = await ops.increment('back', 500, -1);
    expect(back.count).toBe(1);
    expect(back.resetInMs).toBeGreaterThan(0);
    await untilGone(raw, `${namespace}:counter:back`);
    expect(await ops.increment('back', 500, -1)).toEqual({ count: 0, resetInMs: 0 });
    expect(await raw.exists(`${namespace}:counter:back`)).toBe(0);
  });

  it('when both instances set one key if absent at once, then exactly one value is stored and every other call gets it back', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).for('test').setIfAbsent<string>('claim', `v${i}`, 60_000)),
    );
    const stored = answers.filter((v) => v === undefined);
    expect(stored).toHaveLength(1);
    const winner = JSON.parse((await raw.get(`${namespace}:value:claim`))!) as string;
    expect(answers.filter((v) => v !== undefined)).toEqual(Array(19).fill(winner));
    expect(await raw.pTTL(`${namespace}:value:claim`)).toBeGreaterThan(50_000);
    await a.for('test').delete('claim');
  });

  it('when both instances race for a lock, then exactly one holds it, and the other gets it only after the holder releases', async () => {
    const tries = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).for('test').acquire('race', 60_000)),
    );
    const tokens = tries.filter((t): t is string => t !== undefined);
    expect(tokens).toHaveLength(1);
    expect(await raw.get(`${namespace}:lock:race`)).toBe(tokens[0]);
    expect(await b.for('test').acquire('race', 60_000)).toBeUndefined();
    expect(await a.for('test').release('race', tokens[0])).toBe(true);
    const next = await b.for('test').acquire('race', 60_000);
    expect(next).toEqual(expect.any(String));
    expect(next).not.toBe(tokens[0]);
    expect(await b.for('test').release('race', next!)).toBe(true);
  });

  it('when another instance releases with a token that is not the holder one, then nothing is released', async () => {
    const token = await a.for('test').acquire('held', 60_000);
    expect(await b.for('test').release('held', 'someone-else')).toBe(false);
    expect(await b.for('test').acquire('held', 60_000)).toBeUndefined();
    expect(await raw.get(`${namespace}:lock:held`)).toBe(token);
    expect(await a.for('test').release('held', token!)).toBe(true);
    expect(await raw.exists(`${namespace}:lock:held`)).toBe(0);
  });

  it('when a holder outlives its lock TTL, then the other instance takes it, and the late release of the first leaves the new lock alone', async () => {
    const first = await a.for('test').acquire('ttl', 300);
    expect(first).toEqual(expect.any(String));
    await untilGone(raw, `${namespace}:lock:ttl`);
    const second = await b.for('test').acquire('ttl', 60_000);
    expect(second).toEqual(expect.any(String));
    expect(await a.for('test').release('ttl', first!)).toBe(false);
    expect(await raw.get(`${namespace}:lock:ttl`)).toBe(second);
    expect(await b.for('test').release('ttl', second!)).toBe(true);
  });

  it('when a store or the session cache is closed while its first connection is still being made, then no connection is left open to hold the process', async () => {
    const redis = new URL(target.kind === 'services' ? target.redisUrl : 'redis://127.0.0.1:6379');
    const proxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const port = await proxy.start();
    try {
      const options = { redisUrl: redisUrlVia(port), timeoutMs: 2000, namespace, logger: silent() };
      // Closed at once, as an app whose start failed, or a test that starts and stops, closes them.
      await Promise.all([createKeyValueStore(options).close(), createCache(options).close()]);
      await new Promise((r) => setTimeout(r, 300));
      expect(proxy.accepted).toBeGreaterThan(0);
      expect(proxy.connections).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('when a store is pinged, then it answers; once closed, its calls are refused naming the store', async () => {
    const c = createKeyValueStore({
      redisUrl: target.kind === 'services' ? target.redisUrl : '',
      timeoutMs: 2000,
      namespace,
      logger: silent(),
    });
    await c.ping();
    await c.close();
    await expect(c.for('rate-limit').increment('late', 1000)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: 'The rate-limit store is unavailable: retry later.',
    });
    expect(await raw.exists(`${namespace}:counter:late`)).toBe(0);
  });
});
