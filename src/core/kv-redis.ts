import { randomBytes } from 'node:crypto';
import { createClient, createCluster, ErrorReply } from '@redis/client';
import type { Logger } from 'pino';
import { AppError } from './errors';
import { withTimeout } from './timeout';
import type { Counted, KeyValue, KeyValueStore } from './kv';

/** A Redis Cluster's nodes (REDIS_CLUSTER_NODES): the ones asked for the slot map. */
export type ClusterNodes = readonly { host: string; port: number }[];

/**
 * The Redis store of kv.ts, on a connection of its own: one Redis (redisConnection) or a Redis Cluster
 * (redisClusterConnection). Every operation touches one key, so on a cluster each runs whole on one slot's master.
 */
export function createRedisKeyValueStore({
  url,
  clusterNodes,
  timeoutMs,
  namespace,
  logger,
}: {
  url?: string;
  clusterNodes?: ClusterNodes;
  timeoutMs: number;
  namespace: string;
  logger: Logger;
}): KeyValueStore {
  const onError = throttledLog(logger, 'key-value store error');
  const redis: StoreConnection = clusterNodes
    ? redisClusterConnection(clusterNodes, timeoutMs, onError)
    : redisConnection(url!, timeoutMs, onError);
  const value = (key: string) => `${namespace}:value:${key}`;
  // The rate limiter's counters have always lived here (test/support/redis-fault.ts reads them).
  const counter = (key: string) => `${namespace}:counter:${key}`;
  const lock = (key: string) => `${namespace}:lock:${key}`;

  const opsFor = (use: string): KeyValue => {
    const call = <T>(run: (client: RedisClient) => Promise<T>) =>
      bounded(redis, timeoutMs, `${use} store`, (client) => {
        // Refused at once while the connection is being re-made, rather than left to node-redis (which queued a MULTI
        // even with the offline queue disabled). A cluster's readiness is checked by its connection.
        if (!redis.cluster && !client.isReady) throw new Error('The Redis connection is not ready');
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
          // One command, one round trip (a MULTI of the same three was five commands), and one path on a single
          // Redis and on a cluster, which routes a script by its key.
          const [count, ttl] = (await c.eval(INCREMENT, {
            keys: [k],
            arguments: [String(by), String(wholeMs(windowMs))],
          })) as [number, number];
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
      await bounded(redis, timeoutMs, 'key-value store', async (c) => {
        await (redis.cluster ? pingMasters(c) : c.ping());
      });
    },
    close: () => redis.close(),
  };
}

/** INCRBY, PEXPIRE NX and PTTL as one script on one key: atomic, one command, single-slot on a cluster. */
const INCREMENT =
  "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX') return {n, redis.call('PTTL', KEYS[1])}";
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
  redis: StoreConnection | undefined,
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
    if (used) redis?.check?.(used);
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
    if (used) redis?.failed?.(used, err);
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
  /** A cluster's only: its masters as last discovered, and the connection to one of them. */
  readonly masters?: readonly unknown[];
  nodeClient?(node: unknown): Promise<RedisClient>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** What `bounded` runs a call on: one Redis (redisConnection) or a cluster (redisClusterConnection). */
export interface StoreConnection {
  readonly cluster: boolean;
  readonly current: RedisClient;
  /** Destroys `client` if it is still the current one and opens its replacement. */
  drop(client: RedisClient): void;
  /** Pending until the first connection is up or has failed; then undefined. */
  starting(): Promise<void> | undefined;
  onReplace(fn: (client: RedisClient) => void): void;
  close(): Promise<void>;
  /** Throws when `client` cannot take a command now, so that the call is refused at once rather than queued. */
  check?(client: RedisClient): void;
  /** Hears that a call on `client` failed (not timed out). */
  failed?(client: RedisClient, err: unknown): void;
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
    cluster: false,
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

/**
 * A Redis Cluster connection with redisConnection's guarantees, as far as the cluster client allows:
 *  - No offline queue on any node, and a node connection that breaks is not re-made in place: a command for a node
 *    that is down fails at once instead of waiting for it (or for its replica's promotion) and running late.
 *  - At a call's timeout the whole cluster client is destroyed (every node's connection) and a new one discovers
 *    the slots again from REDIS_CLUSTER_NODES: no reply can arrive for the timed-out command, nothing unsent runs.
 *  - node-redis rediscovers the slots only on a MOVED reply, never when a master dies, so a call that fails on a
 *    broken node (or on CLUSTERDOWN) replaces the client too, at most every REDISCOVER_MS: once a replica has taken
 *    over, the next discovery sends that slot's calls to it, without a restart.
 *  - A discovery that does not finish within timeoutMs (a frozen node) is given up and started again; while one runs,
 *    calls are refused at once, except before the very first one is done (within each call's deadline).
 * What differs from one Redis: before the failover (cluster-node-timeout plus the election) the dead master's slots
 * are unavailable while the others serve; writes the dead master acknowledged but had not yet sent to its replica
 * are lost with it (Redis replicates asynchronously), e.g. a session issued just before the kill; and, as with one
 * Redis, bytes that already left this process may still run on a node that was only frozen.
 */
export function redisClusterConnection(
  nodes: ClusterNodes,
  timeoutMs: number,
  onError: (err: unknown) => void = () => undefined,
): StoreConnection {
  let closed = false;
  let replaced: (client: RedisClient) => void = () => undefined;
  const ready = new WeakSet<RedisClient>();
  let failures = 0;
  let lastReplaced = 0;
  let started: () => void = () => undefined;
  let starting: Promise<void> | undefined = new Promise<void>((resolve) => {
    started = () => {
      starting = undefined;
      resolve();
    };
  });

  const open = (): RedisClient => {
    const cluster = createCluster({
      rootNodes: nodes.map(({ host, port }) => ({ socket: { host, port } })),
      // Connect to a node when a call needs it: a dead master's connect must not hold up the others' calls.
      minimizeConnections: true,
      defaults: {
        disableOfflineQueue: true,
        socket: { connectTimeout: timeoutMs, reconnectStrategy: false, keepAlive: true },
      },
    }) as unknown as RedisClient & { on(event: string, listener: (err?: unknown) => void): unknown };
    // Both, or node-redis would crash the process on an unheard 'error'.
    cluster.on('error', onError);
    cluster.on('node-error', onError);
    const discovery = setTimeout(() => drop(cluster), timeoutMs).unref();
    cluster.connect().then(
      () => {
        clearTimeout(discovery);
        failures = 0;
        ready.add(cluster);
        started();
      },
      (err: unknown) => {
        clearTimeout(discovery);
        if (closed || cluster !== current) return;
        onError(err);
        started();
        // No node answered: try again, backing off, for as long as the store is open.
        const wait = Math.min(50 * 2 ** failures++, 2000) + Math.floor(Math.random() * 100);
        setTimeout(() => drop(cluster), wait).unref();
      },
    );
    return cluster;
  };

  let current = open();

  function drop(client: RedisClient) {
    if (closed || client !== current) return;
    started();
    lastReplaced = Date.now();
    current = open();
    replaced(current);
    destroy(client);
  }

  return {
    cluster: true,
    get current() {
      return current;
    },
    drop,
    starting: () => starting,
    onReplace(fn) {
      replaced = fn;
    },
    check(client) {
      if (!ready.has(client)) throw new Error('The Redis Cluster slots are being discovered');
    },
    failed(client, err) {
      // A reply (a script's error, a wrong type) says the node is fine; CLUSTERDOWN says the slot map is changing.
      if (err instanceof ErrorReply && !err.message.startsWith('CLUSTERDOWN')) return;
      if (!ready.has(client) || Date.now() - lastReplaced < REDISCOVER_MS) return;
      drop(client);
    },
    async close() {
      closed = true;
      const client = current;
      if (!ready.has(client)) return destroy(client);
      await withTimeout(client.close(), timeoutMs, () => new Error('close timed out')).catch(() => destroy(client));
    },
  };
}

/** How often at most a failing call makes the cluster client discover the slots again. */
const REDISCOVER_MS = 250;

/** PING on every master: one node answering says nothing about the others' slots. */
async function pingMasters(cluster: RedisClient): Promise<void> {
  const masters = cluster.masters ?? [];
  if (!masters.length) throw new Error('The Redis Cluster has no known master');
  await Promise.all(masters.map(async (m) => (await cluster.nodeClient!(m)).ping()));
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
