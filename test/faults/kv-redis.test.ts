import { createClient } from '@redis/client';
import { Writable } from 'node:stream';
import { createKeyValueStore, type KeyValue, type KeyValueStore } from '../../src/core/kv';
import { createLogger } from '../../src/core/logger';
import { describeServices, redisNamespace, proxiedRedis, target } from '../support/target';
import { eventually, timed } from '../support/eventually';
import { serverBehindRedisProxy } from '../support/redis-fault';
import { LOGIN, ME, codeOf } from '../support/server';

const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
let nested = 0;

/** A store whose Redis is behind a TcpProxy, and a direct client that reads what it really wrote. */
async function storeBehindProxy(timeoutMs: number) {
  if (target.kind !== 'services') throw new Error('services only');
  const { proxy, url: redisUrl } = await proxiedRedis();
  const namespace = `${redisNamespace}.k${++nested}`;
  const store = createKeyValueStore({ redisUrl, timeoutMs, namespace, logger: silent() });
  const raw = createClient({ url: target.redisUrl });
  raw.on('error', () => undefined);
  await raw.connect();
  const snapshot = async () => {
    const keys: string[] = [];
    for await (const batch of raw.scanIterator({ MATCH: `${namespace}:*` })) keys.push(...batch);
    keys.sort();
    const values = keys.length ? await raw.mGet(keys) : [];
    return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
  };
  return {
    proxy,
    store,
    ops: store.for('rate-limit'),
    snapshot,
    async close() {
      await proxy.stop();
      await store.close();
      const keys = Object.keys(await snapshot());
      if (keys.length) await raw.del(keys);
      raw.destroy();
    },
  };
}

type Settled = { value?: unknown; error?: unknown };

/** Every kind of call at once, each timed and settled. */
async function everyCall(store: KeyValueStore, ops: KeyValue, lockToken: string) {
  const settle = (run: () => Promise<unknown>) =>
    timed(() =>
      run().then(
        (value): Settled => ({ value }),
        (error: unknown): Settled => ({ error }),
      ),
    );
  return Promise.all([
    settle(() => ops.get('v-7f3a')),
    settle(() => ops.set('v-7f3a', 'changed', 3_600_000)),
    settle(() => ops.delete('v-7f3a')),
    settle(() => ops.increment('c-7f3a', 3_600_000)),
    settle(() => ops.acquire('free-7f3a', 3_600_000)),
    settle(() => ops.release('held-7f3a', lockToken)),
    settle(() => store.ping()),
  ]);
}

function expectRefused(calls: { result: Settled; ms: number }[], withinMs: number, said: RegExp) {
  for (const [i, call] of calls.entries()) {
    const error = call.result.error as { code?: string; message?: string } | undefined;
    expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // The store and the use are named (ping is the store's own); no key is.
    expect(error!.message).toMatch(i === calls.length - 1 ? /^The key-value store / : /^The rate-limit store /);
    expect(error!.message).toMatch(said);
    expect(error!.message).not.toMatch(/7f3a/);
    expect(call.ms).toBeLessThan(withinMs);
  }
}

/** What each instance had written before the fault: a value, a counter at 1, a lock held. */
async function written(ops: KeyValue) {
  await ops.set('v-7f3a', 'kept', 3_600_000);
  expect(await ops.increment('c-7f3a', 3_600_000)).toMatchObject({ count: 1 });
  const token = await ops.acquire('held-7f3a', 3_600_000);
  expect(token).toEqual(expect.any(String));
  return token!;
}

/** Afterwards the same store, no restart, answers every call, each with its own reply. */
async function expectRecovered(store: KeyValueStore, ops: KeyValue, lockToken: string) {
  expect(await eventually(async () => (await store.ping(), true), 15000)).toBe(true);
  await Promise.all(Array.from({ length: 10 }, (_, i) => ops.set(`own-7f3a-${i}`, i, 60_000)));
  expect(await Promise.all(Array.from({ length: 10 }, (_, i) => ops.get(`own-7f3a-${i}`)))).toEqual(
    Array.from({ length: 10 }, (_, i) => i),
  );
  expect(await ops.increment('c-7f3a', 3_600_000)).toMatchObject({ count: 2 });
  expect(await ops.release('held-7f3a', lockToken)).toBe(true);
  expect(await ops.acquire('held-7f3a', 60_000)).toEqual(expect.any(String));
}

describeServices('key-value store when Redis freezes (a stopped process) and then thaws', () => {
  const TIMEOUT_MS = 800;
  let s: Awaited<ReturnType<typeof storeBehindProxy>>;
  beforeAll(async () => {
    s = await storeBehindProxy(TIMEOUT_MS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then every call fails with SERVICE_UNAVAILABLE naming the store within CACHE_TIMEOUT_MS, none of them runs on thaw, and the same store serves again', async () => {
    const { proxy, store, ops, snapshot } = s;
    const token = await written(ops);
    const before = await snapshot();
    expect(Object.keys(before)).toHaveLength(3);

    proxy.freeze();
    expectRefused(await everyCall(store, ops, token), TIMEOUT_MS + 2000, /did not answer|is unavailable/);
    // The dropped connection's close reaches the hop a moment later; a thaw before it would deliver its commands.
    await eventually(async () => proxy.heldBytes === 0, 3000);

    proxy.thaw();
    expect(await eventually(async () => (await store.ping(), true), 15000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    // Nothing late: no value changed or deleted, no counter moved, no lock taken or released.
    expect(await snapshot()).toEqual(before);

    await expectRecovered(store, ops, token);
  });
});

describeServices('key-value store when the connection to Redis is dropped with commands on the wire', () => {
  // Long, so that a call held for the deadline stands out from one refused at once.
  const TIMEOUT_MS = 10_000;
  let s: Awaited<ReturnType<typeof storeBehindProxy>>;
  beforeAll(async () => {
    s = await storeBehindProxy(TIMEOUT_MS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then the calls on the wire and those asked while it reconnects fail at once naming the store, none runs later, and the same store serves again', async () => {
    const { proxy, store, ops, snapshot } = s;
    const token = await written(ops);
    const before = await snapshot();

    proxy.freeze();
    const onTheWire = everyCall(store, ops, token);
    expect(await eventually(async () => proxy.heldBytes > 0, 5000)).toBe(true);
    proxy.drop();
    expectRefused(await onTheWire, TIMEOUT_MS / 2, /is unavailable/);
    // The store reconnects into the same frozen hop: what is asked now is refused, not queued for later.
    expectRefused(await everyCall(store, ops, token), TIMEOUT_MS / 2, /is unavailable|did not answer/);

    proxy.thaw();
    expect(await eventually(async () => (await store.ping(), true), 20000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await snapshot()).toEqual(before);
    await expectRecovered(store, ops, token);
  });
});

describeServices('key-value store when the path to Redis black-holes and then comes back', () => {
  const TIMEOUT_MS = 800;
  let s: Awaited<ReturnType<typeof storeBehindProxy>>;
  beforeAll(async () => {
    s = await storeBehindProxy(TIMEOUT_MS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then every call fails within CACHE_TIMEOUT_MS naming the store, the hung handshakes are given up too, and afterwards each call gets its own reply', async () => {
    const { proxy, store, ops } = s;
    const token = await written(ops);

    proxy.blackhole();
    const accepted = proxy.accepted;
    expectRefused(await everyCall(store, ops, token), TIMEOUT_MS + 2000, /did not answer|is unavailable/);
    // A new connection into the black hole hangs in its handshake: it must be replaced, not waited on for good.
    expect(await eventually(async () => proxy.accepted > accepted + 1, 5000)).toBe(true);

    proxy.thaw();
    await expectRecovered(store, ops, token);
  });
});

describeServices('a server whose Redis freezes: each failure names its store', () => {
  let s: Awaited<ReturnType<typeof serverBehindRedisProxy>>;
  beforeAll(async () => {
    s = await serverBehindRedisProxy(800);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then login (held at its rate limit) says the rate-limit store did not answer, me says the session store did, and both serve again after the thaw', async () => {
    const { proxy, t } = s;
    const a = await t.login();
    const { code } = await t.sim.loginCode();

    proxy.freeze();
    const [login, me] = await Promise.all([t.gql(LOGIN, { code }), t.gql(ME, {}, a.token)]);
    expect(codeOf(login)).toBe('SERVICE_UNAVAILABLE');
    expect(login.errors?.[0]?.message).toBe('The rate-limit store did not answer: retry later.');
    expect(codeOf(me)).toBe('SERVICE_UNAVAILABLE');
    expect(me.errors?.[0]?.message).toBe('The session store did not answer: retry later.');
    await eventually(async () => proxy.heldBytes === 0, 3000);

    proxy.thaw();
    expect(await eventually(async () => (await fetch(`${t.url}/readyz`)).status === 200, 15000)).toBe(true);
    expect((await t.gql<{ me: { openid: string } }>(ME, {}, a.token)).data?.me.openid).toBe(a.openid);
    const b = await t.login();
    expect(b.token).toEqual(expect.any(String));
  });
});
