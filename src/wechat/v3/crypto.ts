import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * WeChat Pay v3's signatures and its AEAD: pure functions, no I/O. Every signed message is its lines joined, each
 * ending in `\n` (the last one too). Signatures are SHA256withRSA (PKCS#1 v1.5), base64.
 */

/** `a\nb\nc\n`: how v3 builds every message it signs. */
export function v3Message(...lines: string[]): string {
  return lines.map((line) => `${line}\n`).join('');
}

export type PrivateKeyInput = string | Buffer | KeyObject;
export type PublicKeyInput = string | Buffer | KeyObject;

const privateKey = (key: PrivateKeyInput) => (typeof key === 'object' && 'type' in key ? key : createPrivateKey(key));
const publicKey = (key: PublicKeyInput) =>
  typeof key === 'object' && 'type' in key
    ? key.type === 'private'
      ? createPublicKey(key)
      : key
    : createPublicKey(key);

/** SHA256withRSA over `message`, base64. */
export function signV3(message: string, key: PrivateKeyInput): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey(key), 'base64');
}

/** Does `signature` (base64) verify over `message` with `key`? Malformed input is false, never an exception. */
export function verifyV3(message: string, signature: string, key: PublicKeyInput): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey(key), signature, 'base64');
  } catch {
    return false;
  }
}

/** The five fields of a v3 Authorization header. */
export interface V3Authorization {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** 32 characters of [0-9A-Z] from crypto randomness, as WeChat's own SDKs make nonces. */
export function v3Nonce(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return Array.from(randomBytes(32), (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The Authorization header of one request: SHA256withRSA over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` with the
 * merchant's API key, `body` being the exact bytes sent ('' for a GET).
 */
export function authorizationHeader(input: {
  mchid: string;
  serialNo: string;
  privateKey: PrivateKeyInput;
  method: string;
  /** The path with its query, as sent: `/v3/pay/transactions/out-trade-no/123?mchid=1900000109`. */
  url: string;
  body: string;
  timestamp?: string;
  nonce?: string;
}): string {
  const timestamp = input.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? v3Nonce();
  const signature = signV3(
    v3Message(input.method.toUpperCase(), input.url, timestamp, nonce, input.body),
    input.privateKey,
  );
  return `${AUTH_SCHEME} mchid="${input.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${input.serialNo}"`;
}

/** An Authorization header's fields (the simulator's check); undefined when it is not one. */
export function parseAuthorization(header: string | undefined): V3Authorization | undefined {
  if (!header?.startsWith(`${AUTH_SCHEME} `)) return undefined;
  const fields: Record<string, string> = {};
  for (const m of header.slice(AUTH_SCHEME.length + 1).matchAll(/(\w+)="([^"]*)"/g)) fields[m[1]] = m[2];
  const { mchid, nonce_str, signature, timestamp, serial_no } = fields;
  if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) return undefined;
  return { mchid, nonce_str, signature, timestamp, serial_no };
}

/** Is the request's signature (from parseAuthorization) good for this method, url and body under the merchant's key? */
export function verifyAuthorization(
  auth: V3Authorization,
  request: { method: string; url: string; body: string },
  key: PublicKeyInput,
): boolean {
  return verifyV3(
    v3Message(request.method.toUpperCase(), request.url, auth.timestamp, auth.nonce_str, request.body),
    auth.signature,
    key,
  );
}

/** WeChat's signature probes: a Wechatpay-Signature with this prefix must never verify (it tests that we check). */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

/**
 * The Wechatpay-* headers of an answer or a notify over its exact body: `Wechatpay-Timestamp\nWechatpay-Nonce\nBODY\n`.
 * A SIGNTEST probe is false whatever it carries.
 */
export function verifyWechatpaySignature(
  headers: { timestamp: string; nonce: string; signature: string },
  body: string,
  key: PublicKeyInput,
): boolean {
  if (headers.signature.startsWith(SIGNTEST_PREFIX)) return false;
  return verifyV3(v3Message(headers.timestamp, headers.nonce, body), headers.signature, key);
}

/** What the simulator (or WeChat) puts on a signed answer: the headers a verifier reads. */
export function wechatpaySignatureHeaders(
  body: string,
  key: PrivateKeyInput,
  serial: string,
  at = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const timestamp = String(at);
  const nonce = v3Nonce();
  return {
    'wechatpay-timestamp': timestamp,
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signV3(v3Message(timestamp, nonce, body), key),
    'wechatpay-serial': serial,
  };
}

/** paySign for wx.requestPayment with signType RSA: over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key. */
export function requestPaymentSignV3(
  params: { appId: string; timeStamp: string; nonceStr: string; package: string },
  key: PrivateKeyInput,
): string {
  return signV3(v3Message(params.appId, params.timeStamp, params.nonceStr, params.package), key);
}

/** A notify's (or a certificate's) encrypted resource. */
export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
  original_type?: string;
}

export class V3DecryptError extends Error {
  constructor(readonly reason: 'ALGORITHM' | 'KEY' | 'SHAPE' | 'AUTH') {
    super(`v3 resource does not decrypt (${reason})`);
    this.name = 'V3DecryptError';
  }
}

/**
 * AEAD_AES_256_GCM with the APIv3 key (32 ASCII characters): the last 16 bytes of the base64 ciphertext are the tag,
 * `nonce` is 12 characters, `associated_data` is authenticated too. Anything that does not authenticate throws
 * V3DecryptError, whose message carries no key and no plaintext.
 */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') throw new V3DecryptError('ALGORITHM');
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new V3DecryptError('KEY');
  const data = Buffer.from(resource.ciphertext ?? '', 'base64');
  if (typeof resource.nonce !== 'string' || !resource.nonce || data.length < 17) throw new V3DecryptError('SHAPE');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(resource.nonce, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new V3DecryptError('AUTH');
  }
}

/** The inverse, for the simulator and tests: a resource WeChat would send. */
export function encryptResource(
  plaintext: string,
  apiV3Key: string,
  associatedData: string,
  originalType: string,
  nonce = randomBytes(9).toString('base64url').slice(0, 12),
): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: body.toString('base64'),
    nonce,
    associated_data: associatedData,
    original_type: originalType,
  };
}
