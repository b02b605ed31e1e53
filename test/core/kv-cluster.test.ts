import { createCluster } from '@redis/client';
import { Writable } from 'node:stream';
import { createCache, type Cache } from '../../src/core/cache';
import { createKeyValueStore, type KeyValueStore } from '../../src/core/kv';
import { createLogger } from '../../src/core/logger';
import { describeCluster, startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { markServicesSuite } from '../support/server';
import { redisNamespace } from '../support/target';

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

// Two stores and two session caches, each with its own cluster client, stand for two instances on one cluster.
describeCluster(
  'key-value store and sessions on a Redis Cluster (three masters, one replica each), shared by two instances',
  () => {
    const namespace = `${redisNamespace}.cl`;
    let cluster: LocalRedisCluster;
    let a: KeyValueStore;
    let b: KeyValueStore;
    let sa: Cache;
    let sb: Cache;
    let raw: ReturnType<typeof createCluster>;

    beforeAll(async () => {
      cluster = await startRedisCluster();
      const nodes = cluster.nodesSetting.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) }));
      const options = { redisClusterNodes: nodes, timeoutMs: 2000, namespace, logger: silent() };
      a = createKeyValueStore(options);
      b = createKeyValueStore(options);
      sa = createCache(options);
      sb = createCache(options);
      raw = createCluster({ rootNodes: nodes.map((socket) => ({ socket })) });
      raw.on('error', () => undefined);
      await raw.connect();
      markServicesSuite();
    }, 60000);
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close(), sa?.close(), sb?.close()]);
      raw?.destroy();
      await cluster?.stop();
    });

    it('when the stores are pinged, then every master answers, and the keys of one test land on more than one master', async () => {
      await Promise.all([a.ping(), b.ping(), sa.ping(), sb.ping()]);
      const keys = Array.from({ length: 12 }, (_, i) => `${namespace}:counter:spread-${i}`);
      const masters = new Set(await Promise.all(keys.map((k) => cluster.masterOf(k))));
      // Otherwise every case below could pass on one node and prove nothing about slots.
      expect(masters.size).toBeGreaterThan(1);
      expect((await cluster.masters()).length).toBe(3);
    });

    it('when one instance sets values with a TTL, then the other reads them, on whichever master holds each slot, until Redis expires them', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => `v${i}`);
      await Promise.all(keys.map((k, i) => a.for('test').set(k, { n: i }, 60_000)));
      expect(await Promise.all(keys.map((k) => b.for('test').get(k)))).toEqual(keys.map((_, i) => ({ n: i })));
      const owners = new Set(await Promise.all(keys.map((k) => cluster.masterOf(`${namespace}:value:${k}`))));
      expect(owners.size).toBeGreaterThan(1);
      expect(await raw.pTTL(`${namespace}:value:v0`)).toBeGreaterThan(50_000);
      await Promise.all(keys.map((k) => b.for('test').delete(k)));
      expect(await Promise.all(keys.map((k) => a.for('test').get(k)))).toEqual(keys.map(() => undefined));

      await a.for('test').set('short', 'x', 200);
      const until = Date.now() + 5000;
      while ((await raw.exists(`${namespace}:value:short`)) === 1 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 25));
      expect(await b.for('test').get('short')).toBeUndefined();
    });

    it('when both instances hit counters at once, then every hit counts once (1..N) with a window expiry, and a hand-back only moves a running window', async () => {
      const n = 100;
      const counters = ['burst-a', 'burst-b', 'burst-c'];
      const hits = await Promise.all(
        Array.from({ length: n * counters.length }, (_, i) =>
          (i % 2 ? a : b).for('rate-limit').increment(counters[i % counters.length], 60_000),
        ),
      );
      for (const [j, c] of counters.entries()) {
        const mine = hits.filter((_, i) => i % counters.length === j).map((h) => h.count);
        expect(mine.sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(await raw.get(`${namespace}:counter:${c}`)).toBe(String(n));
        const ttl = await raw.pTTL(`${namespace}:counter:${c}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      for (const h of hits) expect(h.resetInMs).toBeGreaterThan(0);
      const back = await b.for('rate-limit').increment('burst-a', 60_000, -1);
      expect(back.count).toBe(n - 1);
      expect(back.resetInMs).toBeGreaterThan(0);
      expect(await a.for('rate-limit').increment('never-hit', 60_000, -1)).toEqual({ count: 0, resetInMs: 0 });
      expect(await raw.exists(`${namespace}:counter:never-hit`)).toBe(0);
    });

    it('when both instances set one key if absent at once, then exactly one value is stored and every other call gets it back', async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).for('test').setIfAbsent<string>('claim', `v${i}`, 60_000)),
      );
      expect(answers.filter((v) => v === undefined)).toHaveLength(1);
      const winner = JSON.parse((await raw.get(`${namespace}:value:claim`))!) as string;
      expect(answers.filter((v) => v !== undefined)).toEqual(Array(19).fill(winner));
      expect(await raw.pTTL(`${namespace}:value:claim`)).toBeGreaterThan(50_000);
    });

    it('when both instances race for locks, then exactly one holds each, a wrong token releases nothing, and the other gets it after the release', async () => {
      for (const name of ['race-1', 'race-2', 'race-3']) {
        const tries = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).for('test').acquire(name, 60_000)),
        );
        const tokens = tries.filter((t): t is string => t !== undefined);
        expect(tokens).toHaveLength(1);
        expect(await raw.get(`${namespace}:lock:${name}`)).toBe(tokens[0]);
        expect(await b.for('test').release(name, 'someone-else')).toBe(false);
        expect(await a.for('test').release(name, tokens[0])).toBe(true);
        const next = await b.for('test').acquire(name, 60_000);
        expect(next).toEqual(expect.any(String));
        expect(next).not.toBe(tokens[0]);
        expect(await b.for('test').release(name, next!)).toBe(true);
        expect(await raw.exists(`${namespace}:lock:${name}`)).toBe(0);
      }
    });

    it('when one instance stores sessions, then the other reads them from their slots, and a delete on one removes them for both', async () => {
      const tokens = Array.from({ length: 12 }, (_, i) => `sess:t${i}`);
      await Promise.all(tokens.map((t, i) => sa.set(t, { userId: String(i) }, 60_000)));
      expect(await Promise.all(tokens.map((t) => sb.get(t)))).toEqual(tokens.map((_, i) => ({ userId: String(i) })));
      // Keyv's layout, `<ns>::<key>`, one key per session.
      expect(await raw.pTTL(`${namespace}::sess:t0`)).toBeGreaterThan(50_000);
      const owners = new Set(await Promise.all(tokens.map((t) => cluster.masterOf(`${namespace}::${t}`))));
      expect(owners.size).toBeGreaterThan(1);
      await Promise.all(tokens.map((t) => sb.delete(t)));
      expect(await Promise.all(tokens.map((t) => sa.get(t)))).toEqual(tokens.map(() => undefined));
    });

    it('when a store is closed, then its calls are refused naming the store, and nothing reaches the cluster', async () => {
      const nodes = cluster.nodesSetting.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) }));
      const c = createKeyValueStore({ redisClusterNodes: nodes, timeoutMs: 2000, namespace, logger: silent() });
      await c.ping();
      await c.close();
      await expect(c.for('rate-limit').increment('late', 1000)).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: 'The rate-limit store is unavailable: retry later.',
      });
      expect(await raw.exists(`${namespace}:counter:late`)).toBe(0);
    });
  },
);
