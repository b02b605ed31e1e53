import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/** The simulated WeChat Pay's own key pair in public-key mode: what a merchant downloads as the "WeChat Pay public key". */
export interface V3Platform {
  publicKeyPem: string;
  /** `PUB_KEY_ID_` + 32 hex digits: the Wechatpay-Serial of every signed answer and notify. */
  publicKeyId: string;
}

export interface V3PlatformKeys extends V3Platform {
  privateKey: KeyObject;
}

/** Made at start and kept in memory only, so no platform secret is ever committed or written out. */
export function generateV3Platform(): V3PlatformKeys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyId: 'PUB_KEY_ID_' + randomBytes(16).toString('hex').toUpperCase(),
  };
}

/**
 * For tests and the dev server: pass `onV3Platform` to the simulator, then read the public half it was told
 * (write it to a file for WECHAT_PAY_PUBLIC_KEY_PEM, its id is WECHAT_PAY_PUBLIC_KEY_ID).
 */
export function captureV3Platform(): { onV3Platform: (platform: V3Platform) => void; get: () => V3Platform } {
  let seen: V3Platform | undefined;
  return {
    onV3Platform: (platform) => {
      seen = platform;
    },
    get: () => {
      if (!seen) throw new Error('the simulator has not started in v3 mode (no v3 option, or not registered yet)');
      return seen;
    },
  };
}

/** v3 timestamps may be 5 minutes off either way. */
export const V3_SKEW_SECONDS = 300;

/**
 * Nonces of accepted requests, each remembered for twice the skew window: a request replayed with the same
 * Authorization is refused for as long as its timestamp would still pass.
 */
export class NonceLog {
  private seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** False when this nonce was used within the window; true (and remembered) otherwise. */
  claim(nonce: string): boolean {
    const now = this.now();
    // Every entry lives the same window, so insertion order is expiry order: drop from the front until one is live.
    for (const [n, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(n);
    }
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, now + 2 * V3_SKEW_SECONDS * 1000);
    return true;
  }
}
