import type { KeyValue } from '../core/kv';
import { AppError } from '../core/errors';

/**
 * Fixed-window counters in the key-value store (its 'rate-limit' use): in Redis they are shared by every instance,
 * so N instances do not multiply the allowance. Over the limit → RATE_LIMITED with the seconds until the window
 * resets. The store failing → SERVICE_UNAVAILABLE ("The rate-limit store did not answer").
 */
export async function enforceRateLimit(
  limits: KeyValue,
  bucket: string,
  limit: number,
  windowSeconds: number,
): Promise<void> {
  const { count, resetInMs } = await limits.increment(`rate:${bucket}`, windowSeconds * 1000);
  if (count > limit) {
    throw new AppError('RATE_LIMITED', undefined, { retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)) });
  }
}

/**
 * A limit on the attempts that fail in a way that `counts`: the others hand their hit back. Each attempt holds
 * its hit while it runs, so a burst cannot slip in before its first failure is counted; over the limit the
 * attempt is not made at all.
 */
export async function limitFailures<T>(
  limits: KeyValue,
  bucket: string,
  limit: number,
  windowSeconds: number,
  attempt: () => Promise<T>,
  counts: (err: unknown) => boolean,
): Promise<T> {
  await enforceRateLimit(limits, bucket, limit, windowSeconds);
  // Not awaited: a hit that could not be handed back only makes the limit stricter until the window ends.
  const handBack = () => void limits.increment(`rate:${bucket}`, windowSeconds * 1000, -1).catch(() => undefined);
  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    if (!counts(err)) handBack();
    throw err;
  }
  handBack();
  return result;
}
