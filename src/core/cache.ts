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

  const bounded = <T>(what: string, p: Promise<T>) =>
    withTimeout(p, timeoutMs, () => new AppError('SERVICE_UNAVAILABLE', 'The session store did not answer: retry later.')).catch(
      (err: unknown) => {
        if (err instanceof AppError) throw err;
        throw new AppError('SERVICE_UNAVAILABLE', 'The session store is unavailable: retry later.', {}, { cause: errorSummary(err) });
      },
    );

  const pingKey = '__ping__';
  return {
    kind: redisUrl ? 'redis' : 'memory',
    get: <T>(key: string) => bounded('get', keyv.get<T>(key)) as Promise<T | undefined>,
    set: async (key, value, ttlMs) => {
      await bounded('set', keyv.set(key, value, ttlMs));
    },
    delete: async (key) => {
      await bounded('delete', keyv.delete(key));
    },
    ping: async () => {
      await bounded('ping', keyv.get(pingKey));
    },
    close: async () => {
      await keyv.disconnect().catch(() => undefined);
    },
  };
}

/** Store errors can carry the command's arguments; only the message and code are kept. */
function errorSummary(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) return { message: err.message, code: (err as { code?: string }).code };
  return { message: String(err) };
}
