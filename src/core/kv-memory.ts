import { randomBytes } from 'node:crypto';
import { AppError } from './errors';
import type { Counted, KeyValue, KeyValueStore } from './kv';

interface Expiring {
  expiresAt: number;
}

/** Past this many entries a map is swept of expired ones on its next write, so it cannot grow without bound. */
const SWEEP_ABOVE = 10_000;

/**
 * The in-process store: what Redis does for kv-redis.ts, for one process. Values are kept as JSON, so a caller that
 * changes an object after set() or get() does not change what is stored, as with Redis. `now` is for tests.
 */
export function createMemoryKeyValueStore({ now = Date.now }: { now?: () => number } = {}): KeyValueStore {
  const values = new Map<string, Expiring & { json: string }>();
  const counters = new Map<string, Expiring & { count: number }>();
  const locks = new Map<string, Expiring & { token: string }>();
  let closed = false;

  function live<E extends Expiring>(map: Map<string, E>, key: string): E | undefined {
    const entry = map.get(key);
    if (entry && entry.expiresAt <= now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }
  function put<E extends Expiring>(map: Map<string, E>, key: string, entry: E) {
    if (map.size > SWEEP_ABOVE) {
      const t = now();
      for (const [k, v] of map) if (v.expiresAt <= t) map.delete(k);
    }
    map.set(key, entry);
  }
  const opsFor = (use: string): KeyValue => {
    // After close() (shutdown), as Redis would answer a closed client.
    const open = () => {
      if (closed) throw new AppError('SERVICE_UNAVAILABLE', `The ${use} store is closed: retry later.`);
    };
    return {
      async get<T>(key: string) {
        open();
        const entry = live(values, key);
        return entry ? (JSON.parse(entry.json) as T) : undefined;
      },
      async set(key, value, ttlMs) {
        open();
        put(values, key, { json: JSON.stringify(value), expiresAt: now() + wholeMs(ttlMs) });
      },
      async setIfAbsent<T>(key: string, value: unknown, ttlMs: number) {
        open();
        const entry = live(values, key);
        if (entry) return JSON.parse(entry.json) as T;
        put(values, key, { json: JSON.stringify(value), expiresAt: now() + wholeMs(ttlMs) });
        return undefined;
      },
      async delete(key) {
        open();
        values.delete(key);
      },
      async increment(key, windowMs, by = 1): Promise<Counted> {
        open();
        let entry = live(counters, key);
        // A hit handed back after its window ended has nothing left to take from.
        if (by < 0 && !entry) return { count: 0, resetInMs: 0 };
        if (!entry) {
          entry = { count: 0, expiresAt: now() + wholeMs(windowMs) };
          put(counters, key, entry);
        }
        entry.count += by;
        return { count: entry.count, resetInMs: entry.expiresAt - now() };
      },
      async acquire(key, ttlMs) {
        open();
        if (live(locks, key)) return undefined;
        const token = randomBytes(16).toString('base64url');
        put(locks, key, { token, expiresAt: now() + wholeMs(ttlMs) });
        return token;
      },
      async release(key, token) {
        open();
        if (live(locks, key)?.token !== token) return false;
        locks.delete(key);
        return true;
      },
    };
  };

  return {
    kind: 'memory',
    for: opsFor,
    ping: async () => {
      if (closed) throw new Error('The in-process store is closed');
    },
    close: async () => {
      closed = true;
      values.clear();
      counters.clear();
      locks.clear();
    },
  };
}

/** Redis takes whole positive milliseconds; rounded the same way here. */
const wholeMs = (ms: number) => Math.max(1, Math.ceil(ms));
