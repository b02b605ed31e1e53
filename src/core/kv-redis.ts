import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from 'pino';
import { AppError } from './errors';
import { withTimeout } from './timeout';
import type { Counted, KeyValue, KeyValueStore } from './kv';

/** The Redis store of kv.ts, on a connection of its own (redisConnection). */
export function createRedisKeyValueStore({
  url,
  timeoutMs,
  namespace,
  logger,
}: {
  url: string;
  timeoutMs: number;
  namespace: string;
  logger: Logger;
}): KeyValueStore {
  const redis = redisConnection(url, timeoutMs, throttledLog(logger, 'key-value store error'));
  const value = (key: string) => `${namespace}:value:${key}`;
  // The rate limiter's counters have always lived here (test/support/redis-fault.ts reads them).
  const counter = (key: string) => `${namespace}:counter:${key}`;
  const lock = (key: string) => `${namespace}:lock:${key}`;

  const opsFor = (use: string): KeyValue => {
    const call = <T>(run: (client: RedisClient) => Promise<T>) =>
      bounded(redis, timeoutMs, `${use} store`, (client) => {
        // node-redis queues a MULTI while offline even with the offline queue disabled: refused now instead.
        if (!client.isReady) throw new Error('The Redis connection is not ready');
        return run(client);
      });
    return {
      get: <T>(key: string) =>
        call(async (c) => {
          const json = await c.get(value(key));
          return json === null ? undefined : (JSON.parse(json) as T);
        }),
      set: (key, v, ttlMs) =>
        call(async (c) => {
          await c.set(value(key), JSON.stringify(v), { expiration: { type: 'PX', value: wholeMs(ttlMs) } });
        }),
      setIfAbsent: <T>(key: string, v: unknown, ttlMs: number) =>
        call(async (c) => {
          const held = (await c.eval(SET_IF_ABSENT, {
            keys: [value(key)],
            arguments: [JSON.stringify(v), String(wholeMs(ttlMs))],
          })) as string | null;
          return held === null ? undefined : (JSON.parse(held) as T);
        }),
      delete: (key) =>
        call(async (c) => {
          await c.del(value(key));
        }),
      increment: (key, windowMs, by = 1) =>
        call(async (c): Promise<Counted> => {
          const k = counter(key);
          if (by < 0) {
            // A hand-back (one per login): one round trip, and only into a window that still runs.
            const [count, ttl] = (await c.eval(HAND_BACK, { keys: [k], arguments: [String(-by)] })) as [number, number];
            return { count: Number(count), resetInMs: Math.max(Number(ttl), 0) };
          }
          const [count, , ttl] = (await c.multi().incrBy(k, by).pExpire(k, wholeMs(windowMs), 'NX').pTTL(k).exec()) as [
            number,
            number,
            number,
          ];
          return { count: Number(count), resetInMs: Math.max(Number(ttl), 0) };
        }),
      acquire: (key, ttlMs) =>
        call(async (c) => {
          const token = randomBytes(16).toString('base64url');
          const set = await c.set(lock(key), token, {
            condition: 'NX',
            expiration: { type: 'PX', value: wholeMs(ttlMs) },
          });
          return set === null ? undefined : token;
        }),
      release: (key, token) =>
        call(async (c) => Number(await c.eval(COMPARE_AND_DELETE, { keys: [lock(key)], arguments: [token] })) === 1),
    };
  };

  return {
    kind: 'redis',
    for: opsFor,
    ping: async () => {
      await bounded(redis, timeoutMs, 'key-value store', (c) => c.ping());
    },
    close: () => redis.close(),
  };
}

/** DECRBY only while the window's key still has its expiry; answers {count, pttl}. */
const HAND_BACK =
  "local t = redis.call('PTTL', KEYS[1]) if t <= 0 then return {0, 0} end return {redis.call('DECRBY', KEYS[1], ARGV[1]), t}";
/** SET … PX unless the key holds a value, answering that value (nil when this one was stored): one atomic step. */
const SET_IF_ABSENT =
  "local v = redis.call('GET', KEYS[1]) if v then return v end redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return false";
/** DEL only if the lock still holds the caller's token: after its TTL another holder's lock must stay. */
const COMPARE_AND_DELETE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

const wholeMs = (ms: number) => Math.max(1, Math.ceil(ms));

/**
 * Runs one call on `redis` within `timeoutMs`, or fails with SERVICE_UNAVAILABLE naming `store` ("rate-limit
 * store"). `run` gets the connection to send on and must send at once: no await before its command, or the command
 * could go out on a connection the deadline has already dropped. Without `redis` (an in-process Keyv) it only
 * maps errors.
 */
export function bounded<T>(
  redis: RedisConnection | undefined,
  timeoutMs: number,
  store: string,
  run: (client: RedisClient) => Promise<T>,
): Promise<T> {
  let expired = false;
  let used = redis?.current;
  const send = () => {
    // Past its deadline a call is never sent: its caller has already been told SERVICE_UNAVAILABLE.
    if (expired) throw new Error('deadline passed before the store was up');
    used = redis?.current;
    return run(used as RedisClient);
  };
  const starting = redis?.starting();
  // Async only so that a throw becomes a rejection: the command is still sent before this returns.
  const sendNow = async () => send();
  return withTimeout(starting ? starting.then(send) : sendNow(), timeoutMs, () => {
    expired = true;
    // The command may sit written on a frozen socket; were the connection kept, it would still run on thaw.
    if (used) redis?.drop(used);
    return new AppError('SERVICE_UNAVAILABLE', `The ${store} did not answer: retry later.`);
  }).catch((err: unknown) => {
    if (err instanceof AppError) throw err;
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      `The ${store} is unavailable: retry later.`,
      {},
      { cause: errorSummary(err) },
    );
  });
}

/** The slice of node-redis used here; its full generic types are too heavy for the compiler here. */
export interface RedisClient {
  readonly isReady: boolean;
  /** True from connect() until close() or destroy(), also while the connection is still being made. */
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: 'connect' | 'ready' | 'error', listener: (err?: unknown) => void): unknown;
  once(event: 'ready' | 'error', listener: (err?: unknown) => void): unknown;
  get(key: string): Promise<string | null>;
  set(
    key: string,
    value: string,
    options: { condition?: 'NX'; expiration: { type: 'PX'; value: number } },
  ): Promise<string | null>;
  del(key: string): Promise<number>;
  ping(): Promise<string>;
  multi(): RedisMulti;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

interface RedisMulti {
  incrBy(key: string, by: number): RedisMulti;
  pExpire(key: string, ms: number, mode: 'NX'): RedisMulti;
  pTTL(key: string): RedisMulti;
  exec(): Promise<unknown[]>;
}

export type RedisConnection = ReturnType<typeof redisConnection>;

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
 * if the path comes back. Then a counter moves by the few commands that were in flight, a lock is taken for a token
 * nobody got (until its TTL), a late session write stores a token nobody received, and a late delete revokes a
 * session whose logout was answered SERVICE_UNAVAILABLE.
 *
 * `onError` hears every connection's errors (node-redis would crash the process on an unheard 'error').
 */
export function redisConnection(url: string, timeoutMs: number, onError?: (err: unknown) => void) {
  let closed = false;
  let replaced: (client: RedisClient) => void = () => undefined;

  const open = (): RedisClient => {
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: timeoutMs,
        // Never give up: a client that stopped trying would stay down for good.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
        keepAlive: true,
      },
    }) as unknown as RedisClient;
    if (onError) client.on('error', onError);
    // From the TCP connect, the handshake has timeoutMs to finish; node-redis itself would wait for it forever.
    let handshake: NodeJS.Timeout | undefined;
    client.on('connect', () => {
      clearTimeout(handshake);
      handshake = setTimeout(() => drop(client), timeoutMs).unref();
    });
    client.on('ready', () => clearTimeout(handshake));
    // Errors are emitted (to onError or Keyv's listener); the promise only settles when the client is destroyed.
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
      const client = current;
      // A client closed while it is still connecting finishes its connect afterwards and stays open, holding the
      // process (node-redis has no socket to end yet): let the connect settle first, within the bound.
      if (client.isOpen && !client.isReady) {
        await withTimeout(
          new Promise((settle) => {
            client.once('ready', settle);
            client.once('error', settle);
          }),
          timeoutMs,
          () => new Error('connect did not settle'),
        ).catch(() => undefined);
      }
      // With Redis unreachable, close() never settles; shutdown must not wait on it forever.
      await withTimeout(client.close(), timeoutMs, () => new Error('close timed out')).catch(() => destroy(client));
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

/** Store errors can carry the command's arguments; only the message and code are kept. */
export function errorSummary(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) return { message: err.message, code: (err as { code?: string }).code };
  return { message: String(err) };
}

/** Logs a store's errors at most once every 5 s: a Redis that is down emits one per reconnect attempt. */
export function throttledLog(logger: Logger, message: string): (err: unknown) => void {
  let lastLogged = 0;
  return (err) => {
    const now = Date.now();
    if (now - lastLogged > 5000) {
      lastLogged = now;
      logger.error({ err: errorSummary(err) }, message);
    }
  };
}
