import type { Cache } from '../core/cache';
import { AppError } from '../core/errors';

/**
 * Fixed-window counters in the session store: in Redis they are shared by every instance, so N instances
 * do not multiply the allowance. Over the limit → RATE_LIMITED with the seconds until the window resets.
 */
export async function enforceRateLimit(cache: Cache, bucket: string, limit: number, windowSeconds: number): Promise<void> {
  const { count, resetInMs } = await cache.incr(`rate:${bucket}`, windowSeconds * 1000);
  if (count > limit) {
    throw new AppError('RATE_LIMITED', undefined, { retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)) });
  }
}
