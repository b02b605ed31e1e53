import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';

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

/** A platform certificate the test gives the simulator (certificate mode): PEM contents, never files it writes. */
export interface V3PlatformCertificateInput {
  /** The X.509 certificate of the platform key: its serial is the Wechatpay-Serial of what that key signs. */
  certificatePem: string;
  privateKeyPem: string;
}

export interface V3PlatformCertificate {
  serial: string;
  certificatePem: string;
  privateKey: KeyObject;
  /** The certificate's own validity, which /v3/certificates reports as effective_time and expire_time. */
  notBefore: number;
  notAfter: number;
}

export function readPlatformCertificate(input: V3PlatformCertificateInput): V3PlatformCertificate {
  const x509 = new X509Certificate(input.certificatePem);
  const privateKey = createPrivateKey(input.privateKeyPem);
  if (!x509.checkPrivateKey(privateKey)) throw new Error("the private key is not the certificate's");
  return {
    serial: x509.serialNumber.toUpperCase(),
    certificatePem: input.certificatePem,
    privateKey,
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
  };
}

/** How /v3/certificates misbehaves, when told to (/dev/v3/certificates): sealed under another key, or a 500. */
export type CertificatesFault = 'key' | 'down';

/**
 * Certificate mode (the older way of WeChat Pay, before its public key): the certificates /v3/certificates serves,
 * and which key signs answers and notifies. Without certificates, or with `signer` undefined, the public key signs.
 */
export class V3CertificateDesk {
  certificates: V3PlatformCertificate[] = [];
  /** The serial whose key signs; undefined: the public key (public-key mode). */
  signer: string | undefined;
  fault: CertificatesFault | undefined;
  downloads = 0;

  constructor(inputs: V3PlatformCertificateInput[] = []) {
    this.replace(inputs);
  }

  /** Serves these from now on; the first one signs unless `signer` names another (or 'public-key'). */
  replace(inputs: V3PlatformCertificateInput[], signer?: string) {
    this.certificates = inputs.map(readPlatformCertificate);
    this.signer = signer === 'public-key' ? undefined : (signer ?? this.certificates[0]?.serial);
    if (this.signer && !this.certificates.some((c) => c.serial === this.signer))
      throw new Error(`signer ${this.signer} is none of the certificates`);
  }

  /** The key that signs now and the Wechatpay-Serial it goes under. */
  signing(platform: V3PlatformKeys): { privateKey: KeyObject; serial: string } {
    const cert = this.signer ? this.certificates.find((c) => c.serial === this.signer) : undefined;
    return cert
      ? { privateKey: cert.privateKey, serial: cert.serial }
      : { privateKey: platform.privateKey, serial: platform.publicKeyId };
  }
}
