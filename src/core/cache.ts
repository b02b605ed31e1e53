import Keyv from 'keyv';
import { createKeyv } from '@keyv/redis';
import type { Logger } from 'pino';
import { AppError } from './errors';
import { withTimeout } from './timeout';

/**
 * Key-value store for sessions (and later rate limits): Redis through Keyv when REDIS_URL is set,
 * an in-process Map otherwise. Every call is bounded: with Redis down, Keyv's get() would otherwise
 * hang forever, and by default it swallows errors into "not found", which would turn a dead Redis
 * into a wave of UNAUTHENTICATED answers.
 */
export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Adds `by` (default one) to a counter that lives `windowMs` from its first hit and returns the new count. Atomic
   * in Redis (MULTI INCRBY + PEXPIRE NX), so every instance sharing the Redis shares the count. `by: -1` hands back
   * a hit that turned out not to count.
   */
  incr(key: string, windowMs: number, by?: number): Promise<{ count: number; resetInMs: number }>;
  /** Resolves when the store answers a round trip. */
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'redis' | 'memory';
}

export interface CacheOptions {
  redisUrl?: string;
  timeoutMs: number;
  namespace?: string;
  logger: Logger;
}

export function createCache({ redisUrl, timeoutMs, namespace = 'wxmp', logger }: CacheOptions): Cache {
  const keyv: Keyv = redisUrl
    ? // No connectionTimeout: @keyv/redis leaves its timer running (keeping a process alive); `bounded` times every call instead.
      createKeyv(redisUrl, { namespace, throwOnErrors: true, throwOnConnectError: true })
    : new Keyv({ namespace });
  keyv.throwOnErrors = true;
  // Keyv emits 'error' on every failure; without a listener an EventEmitter would crash the process.
  let lastLogged = 0;
  keyv.on('error', (err: unknown) => {
    const now = Date.now();
    if (now - lastLogged > 5000) {
      lastLogged = now;
      logger.error({ err: errorSummary(err) }, 'session store error');
    }
  });

  const bounded = <T>(p: Promise<T>) =>
    withTimeout(p, timeoutMs, () => new AppError('SERVICE_UNAVAILABLE', 'The session store did not answer: retry later.')).catch(
      (err: unknown) => {
        if (err instanceof AppError) throw err;
        throw new AppError('SERVICE_UNAVAILABLE', 'The session store is unavailable: retry later.', {}, { cause: errorSummary(err) });
      },
    );

  const pingKey = '__ping__';
  const counters = new Map<string, { count: number; resetAt: number }>();
  const counterKey = (key: string) => `${namespace}:counter:${key}`;

  async function incrRedis(key: string, windowMs: number, by: number) {
    const client = (await (keyv.store as { getClient(): Promise<unknown> }).getClient()) as RedisCounterClient;
    const k = counterKey(key);
    const [count, , ttl] = (await client.multi().incrBy(k, by).pExpire(k, windowMs, 'NX').pTTL(k).exec()) as [number, number, number];
    return { count: Number(count), resetInMs: Math.max(Number(ttl), 0) };
  }

  function incrMemory(key: string, windowMs: number, by: number) {
    const now = Date.now();
    let entry = counters.get(key);
    // A hit handed back after its window ended has nothing left to take from.
    if (by < 0 && (!entry || entry.resetAt <= now)) return { count: 0, resetInMs: 0 };
    if (!entry || entry.resetAt <= now) {
      // Expired windows are swept lazily so the map cannot grow without bound.
      if (counters.size > 10_000) for (const [k, v] of counters) if (v.resetAt <= now) counters.delete(k);
      entry = { count: 0, resetAt: now + windowMs };
      counters.set(key, entry);
    }
    entry.count += by;
    return { count: entry.count, resetInMs: entry.resetAt - now };
  }

  return {
    kind: redisUrl ? 'redis' : 'memory',
    get: <T>(key: string) => bounded(keyv.get<T>(key)) as Promise<T | undefined>,
    set: async (key, value, ttlMs) => {
      await bounded(keyv.set(key, value, ttlMs));
    },
    delete: async (key) => {
      await bounded(keyv.delete(key));
    },
    incr: (key, windowMs, by = 1) => (redisUrl ? bounded(incrRedis(key, windowMs, by)) : Promise.resolve(incrMemory(key, windowMs, by))),
    ping: async () => {
      await bounded(keyv.get(pingKey));
    },
    close: async () => {
      // With Redis unreachable, disconnect() never settles; shutdown must not wait on it forever.
      await withTimeout(keyv.disconnect(), timeoutMs, () => new Error('disconnect timed out')).catch(() => {
        const client = (keyv.store as { client?: { destroy?: () => void } }).client;
        try {
          client?.destroy?.();
        } catch {
          // Already closed: nothing left to release.
        }
      });
    },
  };
}

/** The slice of node-redis used for counters; its full generic types are too heavy for the compiler here. */
interface RedisMulti {
  incrBy(key: string, by: number): RedisMulti;
  pExpire(key: string, ms: number, mode: 'NX'): RedisMulti;
  pTTL(key: string): RedisMulti;
  exec(): Promise<unknown[]>;
}
interface RedisCounterClient {
  multi(): RedisMulti;
}

/** Store errors can carry the command's arguments; only the message and code are kept. */
function errorSummary(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) return { message: err.message, code: (err as { code?: string }).code };
  return { message: String(err) };
}
