import { adminTokenHash } from '../../src/auth/admin';
import { createTestCa } from './test-ca';

/**
 * The env that gives a server refunds against its in-process simulator: the simulator's HTTPS port serves a test
 * CA's certificate, the server presents that CA's client certificate (WeChat Pay's mutual TLS), and `adminToken`
 * is an operator's. The sweeper is off unless `env` (merged last) turns it on.
 */
export function refundEnv(adminToken: string, env: Record<string, string> = {}): Record<string, string> {
  const ca = createTestCa();
  return {
    SIMULATOR_TLS_DIR: ca.dir,
    WECHAT_PAY_CERT_PEM: ca.client,
    WECHAT_PAY_KEY_PEM: ca.clientKey,
    WECHAT_PAY_CA_PEM: ca.ca,
    ADMIN_TOKEN_HASHES: adminTokenHash(adminToken),
    SWEEP_INTERVAL_SECONDS: '0',
    ...env,
  };
}
