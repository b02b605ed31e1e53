import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** WeChat Pay v2 signature: MD5 by default, HMAC-SHA256 when sign_type says so. */
export type SignType = 'MD5' | 'HMAC-SHA256';

export const SIGN_TYPES: readonly SignType[] = ['MD5', 'HMAC-SHA256'];

/**
 * Every non-empty parameter except `sign`, keys sorted by ASCII, joined as k=v with &, then &key=API_KEY,
 * hashed and written as uppercase hex. Values are signed exactly as sent: never trimmed or re-encoded.
 */
export function paySign(
  params: Record<string, string | number | undefined | null>,
  key: string,
  signType: SignType,
): string {
  const base = Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== undefined && params[k] !== null && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const text = `${base}&key=${key}`;
  const digest =
    signType === 'HMAC-SHA256'
      ? createHmac('sha256', key).update(text, 'utf8')
      : createHash('md5').update(text, 'utf8');
  return digest.digest('hex').toUpperCase();
}

/** Constant-time check of `params.sign`, using the params' own sign_type (MD5 when absent, as WeChat defines). */
export function verifyPaySign(params: Record<string, string>, key: string, fallback: SignType = 'MD5'): boolean {
  const claimed = params.sign;
  if (typeof claimed !== 'string' || !claimed) return false;
  // Without a key anyone can compute the "sign": nothing verifies under it (a v3 merchant has no v2 key).
  if (!key) return false;
  const declared = params.sign_type;
  if (declared !== undefined && !SIGN_TYPES.includes(declared as SignType)) return false;
  const expected = paySign(params, key, (declared as SignType | undefined) ?? fallback);
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(claimed.toUpperCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
