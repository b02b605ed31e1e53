import Keyv from 'keyv';
import { createKeyv } from '@keyv/redis';
import type { Logger } from 'pino';
import {
  bounded,
  redisClusterConnection,
  redisConnection,
  throttledLog,
  type ClusterNodes,
  type StoreConnection,
} from './kv-redis';

/**
 * The session store: Redis through Keyv when REDIS_URL is set (a Redis Cluster when REDIS_CLUSTER_NODES is: each
 * session is one key, `<ns>::sess:<hash>`, so one slot), an in-process Map otherwise (counters and locks are
 * kv.ts's). Every call is bounded: with Redis down, Keyv's get() would otherwise hang forever, and by default it
 * swallows errors into "not found", which would turn a dead Redis into a wave of UNAUTHENTICATED answers.
 */
export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, value: T, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Resolves when the store answers a round trip. */
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'redis' | 'memory';
}

export interface CacheOptions {
  redisUrl?: string;
  /** A Redis Cluster instead of one Redis (config.ts refuses both). */
  redisClusterNodes?: ClusterNodes;
  timeoutMs: number;
  namespace?: string;
  logger: Logger;
}

const STORE = 'session store';

/**
 * Keyv's own deserializer, with a fast path: it runs a reviver over every value of the JSON (~5 µs a session read, a
 * twentieth of `me`'s CPU) only to undo its serializer's one escape, a `:` put before every string that starts with `:`
 * (and `:base64:` for a Buffer). A text in which no string starts with `:` is read by a plain JSON.parse with the same
 * result; any other text goes to Keyv's own. In the compact JSON Keyv writes, a string opens after `[`, `{`, `,` or `:`,
 * so `":` there is a string starting with `:` (a quote inside a string is escaped, `\"`).
 */
export function fastDeserialize(exact: (text: string) => unknown): (text: string) => unknown {
  const colonString = /(?:^|[[{,:])":/;
  return (text) => (colonString.test(text) ? exact(text) : (JSON.parse(text) as unknown));
}

export function createCache({
  redisUrl,
  redisClusterNodes,
  timeoutMs,
  namespace = 'wxmp',
  logger,
}: CacheOptions): Cache {
  // Keyv hears the single connection's errors through its own listener; a cluster's node errors need one of ours.
  const redis: StoreConnection | undefined = redisClusterNodes
    ? redisClusterConnection(redisClusterNodes, timeoutMs, throttledLog(logger, `${STORE} error`))
    : redisUrl
      ? redisConnection(redisUrl, timeoutMs)
      : undefined;
  const keyv: Keyv = redis
    ? // The client is ours (redisConnection or redisClusterConnection). No connectionTimeout: @keyv/redis leaves its timer running (keeping a
      // process alive); `bounded` times every call instead.
      createKeyv(redis.current as never, { namespace, throwOnErrors: true, throwOnConnectError: true })
    : new Keyv({ namespace });
  if (redis) {
    // The one hack left: @keyv/redis connects a closed client lazily inside a call and then sends that call's
    // command whenever the connect finishes, long after the caller gave up. The store only borrows our connection,
    // and is handed each new one when our connection replaces it.
    const store = keyv.store as { client: unknown; getClient(): Promise<unknown> };
    store.getClient = async () => redis.current;
    redis.onReplace((client) => (store.client = client));
  }
  keyv.throwOnErrors = true;
  const exactDeserialize = keyv.deserialize;
  if (exactDeserialize) keyv.deserialize = fastDeserialize(exactDeserialize) as typeof exactDeserialize;
  // Keyv emits 'error' on every failure (its store's client's too); without a listener the process would crash.
  keyv.on('error', throttledLog(logger, `${STORE} error`));

  const call = <T>(run: () => Promise<T>) => bounded(redis, timeoutMs, STORE, run);
  const pingKey = '__ping__';

  return {
    kind: redis ? 'redis' : 'memory',
    get: <T>(key: string) => call(() => keyv.get<T>(key)) as Promise<T | undefined>,
    set: async (key, value, ttlMs) => {
      await call(() => keyv.set(key, value, ttlMs));
    },
    delete: async (key) => {
      await call(() => keyv.delete(key));
    },
    ping: async () => {
      await call(() => keyv.get(pingKey));
    },
    close: async () => {
      if (!redis) return keyv.disconnect();
      await redis.close();
    },
  };
}
