import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../core/errors';

/**
 * WeChat's encrypted open data (wx.getUserProfile & co.): AES-128-CBC, key = base64(session_key),
 * iv = base64(iv), PKCS#7 padding, JSON plaintext with a watermark {appid, timestamp}.
 * CBC has no integrity of its own, so every check here (padding, strict UTF-8, JSON, watermark, openId)
 * is what stands between tampered bytes and the database. Whoever picks the iv rewrites the first 16 bytes of the
 * plaintext at will (iv' = iv XOR P1 XOR P1'). WeChat puts openId there, so requiring it to be the session's
 * openid is what catches such a rewrite; nothing else in the data is proof of anything.
 */

export interface Watermark {
  appid: string;
  timestamp: number;
}

export interface UserData {
  openId?: string;
  /** Present when WeChat knows one, but never trusted: the unionid comes from jscode2session alone. */
  unionId?: string;
  nickName?: string;
  avatarUrl?: string;
  gender?: number;
  language?: string;
  city?: string;
  province?: string;
  country?: string;
  watermark: Watermark;
  [key: string]: unknown;
}

export interface DecryptInput {
  sessionKey: string;
  iv: string;
  encryptedData: string;
  appid: string;
  /** The session's openid: the plaintext must carry it as openId. */
  openid: string;
  /** 0 = no age check. */
  maxAgeSeconds: number;
  nowSeconds?: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64: a `+` mangled into a space by URL-encoding is caught here instead of decrypting garbage. */
export function decodeBase64Strict(value: string, field: string): Buffer {
  const bytes = value && BASE64.test(value) ? Buffer.from(value, 'base64') : undefined;
  // Non-zero spare bits (e.g. "AB==") decode, but are not what any encoder produced.
  if (!bytes || bytes.toString('base64') !== value) {
    throw new AppError('BAD_USER_INPUT', `${field} is not valid base64.`, { field });
  }
  return bytes;
}

const decryptFailed = (reason: string) => new AppError('WECHAT_DECRYPT_FAILED', undefined, {}, { cause: reason });

/** Removes PKCS#7 padding after checking every padding byte. */
export function unpadPkcs7(buf: Buffer, blockSize = 16): Buffer {
  if (buf.length === 0 || buf.length % blockSize !== 0) throw decryptFailed('plaintext is not whole blocks');
  const n = buf[buf.length - 1];
  if (n < 1 || n > blockSize) throw decryptFailed('bad padding');
  for (let i = buf.length - n; i < buf.length; i++) {
    if (buf[i] !== n) throw decryptFailed('bad padding');
  }
  return buf.subarray(0, buf.length - n);
}

export function padPkcs7(buf: Buffer, blockSize = 16): Buffer {
  const n = blockSize - (buf.length % blockSize);
  return Buffer.concat([buf, Buffer.alloc(n, n)]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decryptUserData(input: DecryptInput): UserData {
  const iv = decodeBase64Strict(input.iv, 'iv');
  if (iv.length !== 16) throw new AppError('BAD_USER_INPUT', 'iv must decode to 16 bytes.', { field: 'iv' });
  const data = decodeBase64Strict(input.encryptedData, 'encryptedData');
  const key = Buffer.from(input.sessionKey, 'base64');
  if (key.length !== 16) throw decryptFailed('session_key is not 16 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw decryptFailed('ciphertext is not whole blocks');

  const decipher = createDecipheriv('aes-128-cbc', key, iv);
  decipher.setAutoPadding(false);
  const plain = unpadPkcs7(Buffer.concat([decipher.update(data), decipher.final()]));

  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(plain));
  } catch {
    throw decryptFailed('plaintext is not UTF-8 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw decryptFailed('plaintext is not an object');
  const out = parsed as UserData;
  const wm = out.watermark as Partial<Watermark> | undefined;
  if (!wm || wm.appid !== input.appid) throw decryptFailed('watermark appid mismatch');
  if (input.maxAgeSeconds > 0) {
    const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (typeof wm.timestamp !== 'number' || Math.abs(now - wm.timestamp) > input.maxAgeSeconds) {
      throw decryptFailed('watermark too old');
    }
  }
  // Data without an openId may have had it rewritten away through the iv: refused, not trusted less.
  if (out.openId === undefined) throw decryptFailed('no openId');
  if (out.openId !== input.openid) throw decryptFailed('openId is not the session user');
  return out;
}

/** What WeChat's client does (used by the simulator): JSON → PKCS#7 → AES-128-CBC with a random iv. */
export function encryptUserData(payload: object, sessionKey: string): { encryptedData: string; iv: string } {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  cipher.setAutoPadding(false);
  const data = Buffer.concat([cipher.update(padPkcs7(Buffer.from(JSON.stringify(payload), 'utf8'))), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}
