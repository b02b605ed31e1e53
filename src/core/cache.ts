import Keyv from 'keyv';
import { createKeyv } from '@keyv/redis';
import { createClient } from '@redis/client';
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
  const redis = redisUrl ? redisConnection(redisUrl, timeoutMs) : undefined;
  const keyv: Keyv = redis
    ? // The client is ours (redisConnection). No connectionTimeout: @keyv/redis leaves its timer running (keeping a
      // process alive); `bounded` times every call instead.
      createKeyv(redis.current as never, { namespace, throwOnErrors: true, throwOnConnectError: true })
    : new Keyv({ namespace });
  if (redis) {
    const store = keyv.store as { client: unknown; getClient(): Promise<unknown> };
    // @keyv/redis connects a closed client lazily inside a call and then sends that call's command whenever the
    // connect finishes, long after the caller gave up. The connection is ours: the store only borrows it.
    store.getClient = async () => redis.current;
    redis.onReplace((client) => (store.client = client));
  }
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

  const bounded = <T>(run: () => Promise<T>) => {
    let expired = false;
    let used = redis?.current;
    const send = () => {
      // Past its deadline a call is never sent: its caller has already been told SERVICE_UNAVAILABLE.
      if (expired) throw new Error('deadline passed before the store was up');
      used = redis?.current;
      return run();
    };
    const starting = redis?.starting();
    return withTimeout(starting ? starting.then(send) : send(), timeoutMs, () => {
      expired = true;
      // The command may sit written on a frozen socket; were the connection kept, it would still run on thaw.
      if (used) redis?.drop(used);
      return new AppError('SERVICE_UNAVAILABLE', 'The session store did not answer: retry later.');
    }).catch((err: unknown) => {
      if (err instanceof AppError) throw err;
      throw new AppError('SERVICE_UNAVAILABLE', 'The session store is unavailable: retry later.', {}, { cause: errorSummary(err) });
    });
  };

  const pingKey = '__ping__';
  const counters = new Map<string, { count: number; resetAt: number }>();
  const counterKey = (key: string) => `${namespace}:counter:${key}`;

  async function incrRedis(key: string, windowMs: number, by: number) {
    // Sent on the current connection now or refused now: no await may come before it (see redisConnection).
    const client = redis!.current;
    // node-redis queues a MULTI while offline even with the offline queue disabled.
    if (!client.isReady) throw new Error('The Redis connection is not ready');
    const k = counterKey(key);
    if (by < 0) {
      // A hand-back (one per login): one round trip, and only into a window that still runs, so it never leaves a
      // counter without an expiry behind.
      const [count, ttl] = (await client.eval(HAND_BACK, { keys: [k], arguments: [String(-by)] })) as [number, number];
      return { count: Number(count), resetInMs: Math.max(Number(ttl), 0) };
    }
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
    get: <T>(key: string) => bounded(() => keyv.get<T>(key)) as Promise<T | undefined>,
    set: async (key, value, ttlMs) => {
      await bounded(() => keyv.set(key, value, ttlMs));
    },
    delete: async (key) => {
      await bounded(() => keyv.delete(key));
    },
    incr: (key, windowMs, by = 1) => (redis ? bounded(() => incrRedis(key, windowMs, by)) : Promise.resolve(incrMemory(key, windowMs, by))),
    ping: async () => {
      await bounded(() => keyv.get(pingKey));
    },
    close: async () => {
      if (!redis) return keyv.disconnect();
      await redis.close();
    },
  };
}

/** The slice of node-redis used here; its full generic types are too heavy for the compiler here. */
interface RedisClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: 'connect' | 'ready' | 'error', listener: () => void): unknown;
  multi(): RedisMulti;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * The Redis connection, built so that a command which timed out is never run later by us:
 *  - No offline queue: a command issued while the connection is down is refused at once, not held and replayed
 *    when Redis returns (node-redis's default, which applied rate-limit increments whose callers got an error).
 *  - At a call's timeout the connection it used is destroyed and a new one opened: a reply can no longer arrive
 *    for it, and whatever node-redis still held unsent is dropped.
 *  - A connection whose handshake hangs (Redis frozen or black-holed after the TCP connect) is replaced too.
 *  - Only the very first connect is waited for (within each call's deadline): a server just started is not
 *    "Redis is down". Later, while a connection is being re-made, calls are refused at once.
 * What cannot be guaranteed: bytes that already left this process. A stopped Redis whose kernel has accepted the
 * command runs it when it resumes, and bytes in our kernel's send buffer may still be delivered after the close
 * if the path comes back. Then a counter moves by the few commands that were in flight, a late session write
 * stores a token nobody received, and a late delete revokes a session whose logout was answered SERVICE_UNAVAILABLE.
 */
function redisConnection(url: string, timeoutMs: number) {
  let closed = false;
  let replaced: (client: RedisClient) => void = () => undefined;

  const open = (): RedisClient => {
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: timeoutMs,
        // Never give up: the store never reconnects a closed client (see getClient above), so one that stopped
        // trying would stay down for good.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
        keepAlive: true,
      },
    }) as unknown as RedisClient;
    // From the TCP connect, the handshake has timeoutMs to finish; node-redis itself would wait for it forever.
    let handshake: NodeJS.Timeout | undefined;
    client.on('connect', () => {
      clearTimeout(handshake);
      handshake = setTimeout(() => drop(client), timeoutMs).unref();
    });
    client.on('ready', () => clearTimeout(handshake));
    // Errors are emitted (and logged through Keyv); the promise only settles when the client is destroyed.
    client.connect().catch(() => undefined);
    return client;
  };

  let current = open();
  let started: () => void = () => undefined;
  let starting: Promise<void> | undefined = new Promise<void>((resolve) => {
    started = () => {
      starting = undefined;
      resolve();
    };
  });
  current.on('ready', () => started());
  current.on('error', () => started());

  function drop(client: RedisClient) {
    if (closed || client !== current) return;
    started();
    current = open();
    replaced(current);
    destroy(client);
  }

  return {
    get current() {
      return current;
    },
    drop,
    /** Pending until the first connection is up or has failed; then undefined. */
    starting: () => starting,
    onReplace(fn: (client: RedisClient) => void) {
      replaced = fn;
    },
    async close() {
      closed = true;
      // With Redis unreachable, close() never settles; shutdown must not wait on it forever.
      await withTimeout(current.close(), timeoutMs, () => new Error('close timed out')).catch(() => destroy(current));
    },
  };
}

function destroy(client: RedisClient) {
  try {
    client.destroy();
  } catch {
    // Already closed: nothing left to release.
  }
}

/** DECRBY only while the window's key still has its expiry; answers {count, pttl}. */
const HAND_BACK = "local t = redis.call('PTTL', KEYS[1]) if t <= 0 then return {0, 0} end return {redis.call('DECRBY', KEYS[1], ARGV[1]), t}";

interface RedisMulti {
  incrBy(key: string, by: number): RedisMulti;
  pExpire(key: string, ms: number, mode: 'NX'): RedisMulti;
  pTTL(key: string): RedisMulti;
  exec(): Promise<unknown[]>;
}

/** Store errors can carry the command's arguments; only the message and code are kept. */
function errorSummary(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) return { message: err.message, code: (err as { code?: string }).code };
  return { message: String(err) };
}
