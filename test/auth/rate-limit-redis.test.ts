import { createClient } from '@redis/client';
import { Writable } from 'node:stream';
import { createKeyValueStore, type KeyValue, type KeyValueStore } from '../../src/core/kv';
import { createLogger } from '../../src/core/logger';
import { markServicesSuite } from '../support/server';
import { describeServices, redisNamespace, target } from '../support/target';

// The rate limiter's counters in a real Redis: a hit handed back (one per answered login) is one EVAL that takes from
// the window only while it still runs, so a hand-back that arrives after the window ended never leaves a counter
// behind without an expiry (which would throttle that IP forever).
describeServices('rate-limit counters in Redis', () => {
  const namespace = redisNamespace;
  let store: KeyValueStore;
  let counters: KeyValue;
  let raw: ReturnType<typeof createClient>;
  const counterKey = (key: string) => `${namespace}:counter:${key}`;

  beforeAll(async () => {
    if (target.kind !== 'services') return;
    markServicesSuite();
    store = createKeyValueStore({
      redisUrl: target.redisUrl,
      timeoutMs: 2000,
      namespace,
      logger: createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() })),
    });
    counters = store.for('rate-limit');
    raw = createClient({ url: target.redisUrl });
    await raw.connect();
  });
  afterAll(async () => {
    if (target.kind !== 'services') return;
    for await (const keys of raw.scanIterator({ MATCH: `${namespace}:*` })) if (keys.length) await raw.del(keys);
    await raw.quit();
    await store.close();
  });

  it('when a hit is handed back inside its window, then the count drops and the window keeps its expiry', async () => {
    await counters.increment('ip-a', 60_000);
    await counters.increment('ip-a', 60_000);
    const back = await counters.increment('ip-a', 60_000, -1);
    expect(back.count).toBe(1);
    expect(back.resetInMs).toBeGreaterThan(0);
    expect(await raw.get(counterKey('ip-a'))).toBe('1');
    expect(await raw.pTTL(counterKey('ip-a'))).toBeGreaterThan(0);
  });

  it('when the window ends while the attempt is in flight, then the late hand-back leaves no key (and none without an expiry)', async () => {
    const first = await counters.increment('ip-b', 1000);
    expect(first.count).toBe(1);
    // The window's end, as Redis itself reports it: wait until the key is gone rather than sleeping a guessed time.
    const until = Date.now() + 5000;
    while ((await raw.exists(counterKey('ip-b'))) === 1) {
      if (Date.now() > until) throw new Error('the 1 s window did not expire within 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = await counters.increment('ip-b', 1000, -1);
    expect(late).toEqual({ count: 0, resetInMs: 0 });
    expect(await raw.exists(counterKey('ip-b'))).toBe(0);
    // The next window starts fresh, with its own expiry.
    const next = await counters.increment('ip-b', 1000);
    expect(next.count).toBe(1);
    expect(await raw.pTTL(counterKey('ip-b'))).toBeGreaterThan(0);
  });
});
