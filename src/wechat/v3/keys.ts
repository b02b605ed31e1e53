import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ConfigError, readConfigFile } from '../../core/config';

/** The merchant's v3 API key pair: the private half signs every request and paySign; the simulator is given the public half. */
export interface V3Merchant {
  privateKey: KeyObject;
  publicKeyPem: string;
}

/**
 * WECHAT_PAY_MCH_PRIVATE_KEY_PEM's key; without one (only under the simulator), a key pair made now, held in memory
 * for this process only: nothing to commit, nothing to leak.
 */
export function loadV3Merchant(privateKeyPath: string | undefined): V3Merchant {
  if (!privateKeyPath) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readConfigFile('WECHAT_PAY_MCH_PRIVATE_KEY_PEM', privateKeyPath));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(['WECHAT_PAY_MCH_PRIVATE_KEY_PEM: not a PEM private key (apiclient_key.pem)']);
  }
  return {
    privateKey,
    publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** WECHAT_PAY_PUBLIC_KEY_PEM under WECHAT_PAY_PUBLIC_KEY_ID (public-key mode). */
export function loadPlatformKey(path: string, id: string): Map<string, KeyObject> {
  try {
    return new Map([[id, createPublicKey(readConfigFile('WECHAT_PAY_PUBLIC_KEY_PEM', path))]]);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(['WECHAT_PAY_PUBLIC_KEY_PEM: not a PEM public key (pub_key.pem)']);
  }
}
