import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** A WeChat Pay platform key pair and its X.509 certificate (certificate mode), as PEM contents. */
export interface PlatformCertificatePems {
  certificatePem: string;
  privateKeyPem: string;
  /** The certificate's serial, uppercase hex: the Wechatpay-Serial of what its key signs. */
  serial: string;
}

/**
 * A platform certificate made now with the openssl CLI (self-signed; `openssl ca` because it alone can date a
 * certificate in the past on OpenSSL 3.0): valid from an hour ago for `days`, or `expired` (valid 2020 only).
 * Nothing is kept but the returned PEM: the temp dir is removed.
 */
export function createPlatformCertificate(options: { expired?: boolean; days?: number } = {}): PlatformCertificatePems {
  const out = mkdtempSync(join(tmpdir(), 'wxpay-platform-cert-'));
  try {
    const p = (name: string) => join(out, name);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: out, stdio: ['ignore', 'ignore', 'pipe'] });
    // 20 bytes, high bit clear (a positive INTEGER needs no leading zero byte), as WeChat's 40-hex-digit serials.
    const serialBytes = randomBytes(20);
    serialBytes[0] = (serialBytes[0] & 0x7f) | 0x10;
    const serial = serialBytes.toString('hex').toUpperCase();
    writeFileSync(p('serial'), `${serial}\n`);
    writeFileSync(p('index.txt'), '');
    writeFileSync(
      p('ca.cnf'),
      [
        '[ca]',
        'default_ca = platform',
        '[platform]',
        'database = index.txt',
        'new_certs_dir = .',
        'serial = serial',
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        '[any]',
        'commonName = supplied',
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'CN = unused',
        '',
      ].join('\n'),
    );
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    const now = Date.now();
    const [start, end] = options.expired
      ? ['20200101000000Z', '20210101000000Z']
      : [stamp(now - 3600_000), stamp(now + (options.days ?? 7) * 86_400_000)];
    ssl(
      'req',
      '-new',
      '-config',
      p('ca.cnf'),
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('key.pem'),
      '-out',
      p('csr.pem'),
      '-subj',
      '/CN=Tenpay.com/O=WeChat Pay Simulator platform',
    );
    ssl(
      'ca',
      '-batch',
      '-config',
      p('ca.cnf'),
      '-selfsign',
      '-keyfile',
      p('key.pem'),
      '-in',
      p('csr.pem'),
      '-out',
      p('cert.pem'),
      '-startdate',
      start,
      '-enddate',
      end,
      '-notext',
    );
    return {
      certificatePem: readFileSync(p('cert.pem'), 'utf8'),
      privateKeyPem: readFileSync(p('key.pem'), 'utf8'),
      serial,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
