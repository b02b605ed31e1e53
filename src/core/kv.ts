import type { Logger } from 'pino';
import { createMemoryKeyValueStore } from './kv-memory';
import { createRedisKeyValueStore, type ClusterNodes } from './kv-redis';

/**
 * Our own key-value primitives: values with a TTL, counters with a window, and locks held by a token. Redis (a
 * client of this module's own) when REDIS_URL is set, or a Redis Cluster when REDIS_CLUSTER_NODES is, so every
 * instance shares them; in-process otherwise, with the same semantics. Sessions stay on Keyv (cache.ts).
 *
 * Keys live under REDIS_NAMESPACE: values `<ns>:value:<key>`, counters `<ns>:counter:<key>`, locks `<ns>:lock:<key>`.
 * Every operation, scripts included, touches exactly one key, so on a cluster each is whole on one slot and no key
 * needs a hash tag; an operation over several keys would need one (`<ns>:{<key>}:…`) to keep them in one slot.
 */
export interface KeyValueStore {
  readonly kind: 'redis' | 'memory';
  /**
   * The operations for one use ("rate-limit", "access-token"): the use names the store in errors ("The rate-limit
   * store did not answer: retry later."). Uses share the keyspace; each picks keys of its own.
   */
  for(use: string): KeyValue;
  /** Resolves when the store answers a round trip. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Every call answers within CACHE_TIMEOUT_MS, or fails with AppError('SERVICE_UNAVAILABLE') naming the store and
 * never a key or a value.
 */
export interface KeyValue {
  /** The value stored under `key` (JSON), or undefined when there is none or its TTL has run out. */
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /**
   * Stores `value` under `key` for `ttlMs` unless a value is there, in one atomic step across instances: answers the
   * value already there, or undefined when this one was stored. (A first-claim-wins record, e.g. a push's nonce.)
   */
  setIfAbsent<T>(key: string, value: unknown, ttlMs: number): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  /**
   * Adds `by` (default one) to a counter that lives `windowMs` from its first hit and answers the new count. Atomic:
   * every instance sharing the Redis shares the count. `by: -1` hands back a hit that turned out not to count, and
   * only into a window that still runs (a late hand-back never leaves a counter without an expiry).
   */
  increment(key: string, windowMs: number, by?: number): Promise<Counted>;
  /**
   * Takes the lock `key` for `ttlMs` if nobody holds it: answers the holder's token, or undefined when it is held.
   * The lock ends at release or at its TTL, whichever comes first, so a holder that dies never blocks the others.
   */
  acquire(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock if `token` still holds it (not after its TTL let another take it); answers whether it did. */
  release(key: string, token: string): Promise<boolean>;
}

export interface Counted {
  count: number;
  /** Until the window ends; 0 when a hand-back found no window. */
  resetInMs: number;
}

export interface KeyValueOptions {
  redisUrl?: string;
  /** A Redis Cluster instead of one Redis (config.ts refuses both). */
  redisClusterNodes?: ClusterNodes;
  timeoutMs: number;
  namespace?: string;
  logger: Logger;
}

export function createKeyValueStore({
  redisUrl,
  redisClusterNodes,
  timeoutMs,
  namespace = 'wxmp',
  logger,
}: KeyValueOptions): KeyValueStore {
  return redisUrl || redisClusterNodes
    ? createRedisKeyValueStore({ url: redisUrl, clusterNodes: redisClusterNodes, timeoutMs, namespace, logger })
    : createMemoryKeyValueStore();
}
