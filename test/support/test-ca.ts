import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_IDENTITY } from '../../src/core/config';

/** Paths of the PEM files a test CA run writes. Nothing here is a real secret, and nothing is committed. */
export interface TestCa {
  dir: string;
  /** The simulated WeChat Pay's CA: it signs the server certificate and the merchant's API client certificate. */
  ca: string;
  caKey: string;
  /** The simulator's HTTPS certificate: SAN IP:127.0.0.1 and DNS:localhost. */
  server: string;
  serverKey: string;
  /** The merchant's API client certificate (apiclient_cert.pem): CN = the simulator's mch_id. */
  client: string;
  clientKey: string;
  /** A client certificate signed by that CA but for another merchant (CN 1900000000). */
  otherMerchantClient: string;
  otherMerchantClientKey: string;
  /** Another CA, and a client certificate it signed (CN = the simulator's mch_id): the wrong-certificate case. */
  otherCa: string;
  otherClient: string;
  otherClientKey: string;
}

/** PEM contents, as the simulator's `tls` option and node:https take them. */
export interface TlsPems {
  cert: string;
  key: string;
  ca: string;
}

const made = new Map<string, TestCa>();

/**
 * Generates a test CA and its certificates with the openssl CLI into `dir` (a fresh temp dir by default). Memoized per
 * process and per dir: key generation costs a second or so, and every suite in a worker can share one CA.
 */
export function createTestCa(dir?: string): TestCa {
  const key = dir ?? '';
  const cached = made.get(key);
  if (cached) return cached;
  const out = dir ?? mkdtempSync(join(tmpdir(), 'wxpay-test-ca-'));
  mkdirSync(out, { recursive: true });
  const p = (name: string) => join(out, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: out, stdio: ['ignore', 'ignore', 'pipe'] });

  writeFileSync(
    p('openssl.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = unused',
      '[v3_ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      '[client]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const cnf = p('openssl.cnf');

  const newCa = (name: string, cn: string) =>
    ssl(
      'req',
      '-x509',
      '-config',
      cnf,
      '-extensions',
      'v3_ca',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}-key.pem`),
      '-out',
      p(`${name}.pem`),
      '-days',
      '7',
      '-subj',
      `/CN=${cn}`,
    );
  const signed = (name: string, cn: string, ca: string, ext: 'server' | 'client') => {
    ssl(
      'req',
      '-new',
      '-config',
      cnf,
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}-key.pem`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p(`${ca}.pem`),
      '-CAkey',
      p(`${ca}-key.pem`),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '7',
      '-extfile',
      cnf,
      '-extensions',
      ext,
      '-out',
      p(`${name}.pem`),
    );
  };

  newCa('ca', 'WeChat Pay Simulator Test CA');
  signed('server', '127.0.0.1', 'ca', 'server');
  // WeChat's API certificates name the merchant: CN is the mch_id.
  signed('client', SIMULATOR_IDENTITY.mchId, 'ca', 'client');
  signed('other-merchant-client', '1900000000', 'ca', 'client');
  newCa('other-ca', 'Some Other CA');
  signed('other-client', SIMULATOR_IDENTITY.mchId, 'other-ca', 'client');

  const ca: TestCa = {
    dir: out,
    ca: p('ca.pem'),
    caKey: p('ca-key.pem'),
    server: p('server.pem'),
    serverKey: p('server-key.pem'),
    client: p('client.pem'),
    clientKey: p('client-key.pem'),
    otherMerchantClient: p('other-merchant-client.pem'),
    otherMerchantClientKey: p('other-merchant-client-key.pem'),
    otherCa: p('other-ca.pem'),
    otherClient: p('other-client.pem'),
    otherClientKey: p('other-client-key.pem'),
  };
  made.set(key, ca);
  return ca;
}

/** The simulator's `tls` option from a test CA: its server certificate, and the CA client certificates must chain to. */
export function simulatorTls(ca: TestCa = createTestCa()): TlsPems {
  return {
    cert: readFileSync(ca.server, 'utf8'),
    key: readFileSync(ca.serverKey, 'utf8'),
    ca: readFileSync(ca.ca, 'utf8'),
  };
}
