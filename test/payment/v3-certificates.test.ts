import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, SIMULATOR_IDENTITY } from '../../src/core/config';
import { readCertificates, validAt } from '../../src/wechat/v3/certificates';
import { encryptResource } from '../../src/wechat/v3/crypto';
import { createPayment, type PayParams, type PaymentAnswer } from '../support/pay';
import { codeOf, LOGIN, markServicesSuite, startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { eventually } from '../support/eventually';
import { onServices } from '../support/target';
import { simulatorDev } from '../support/simulator-dev';
import { createPlatformCertificate, type PlatformCertificatePems } from '../support/test-ca';

if (onServices) markServicesSuite();

/**
 * Certificate mode (WECHAT_PAY_API=v3 without WECHAT_PAY_PUBLIC_KEY_PEM/ID): the server downloads WeChat Pay's
 * platform certificates from GET /v3/certificates and verifies answers and notifies with them. A real merchant setup
 * against the standalone simulator, over real HTTP; the certificates are made with openssl for this run only.
 */
type Sim = Awaited<ReturnType<typeof startStandaloneSimulator>>;

const ORDER = `query($o: String!, $r: Boolean) { order(outTradeNo: $o, refresh: $r) { status } }`;
const pemOf = (c: PlatformCertificatePems) => ({ certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem });

describe('WeChat Pay v3 in platform certificate mode', () => {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = mkdtempSync(join(tmpdir(), 'v3-certs-'));
  const keyPath = join(dir, 'apiclient_key.pem');
  writeFileSync(keyPath, merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const certA = createPlatformCertificate();
  const certB = createPlatformCertificate();
  const expired = createPlatformCertificate({ expired: true });
  const running: { close: () => Promise<unknown> }[] = [];

  afterAll(async () => {
    for (const r of running.reverse()) await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function simulator(certificates: PlatformCertificatePems[]): Promise<Sim> {
    const sim = await startStandaloneSimulator({
      v3: {
        mchPublicKey: merchant.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        mchSerial: SIMULATOR_IDENTITY.mchSerial,
        apiV3Key: SIMULATOR_IDENTITY.apiV3Key,
        certificates: certificates.map(pemOf),
      },
    });
    running.push(sim);
    return sim;
  }

  async function server(sim: Sim, env: Record<string, string> = {}): Promise<TestServer> {
    const { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE, WECHAT_MCH_ID, WECHAT_PAY_BASE } = sim.env();
    const t = await startServer({
      env: {
        WECHAT_APPID,
        WECHAT_SECRET,
        WECHAT_API_BASE,
        WECHAT_MCH_ID,
        WECHAT_PAY_BASE,
        WECHAT_NOTIFY_URL: 'https://example.com/notify/v3',
        WECHAT_PAY_API: 'v3',
        WECHAT_PAY_MCH_SERIAL: SIMULATOR_IDENTITY.mchSerial,
        WECHAT_PAY_MCH_PRIVATE_KEY_PEM: keyPath,
        WECHAT_PAY_API_V3_KEY: SIMULATOR_IDENTITY.apiV3Key,
        ...env,
      },
    });
    running.push(t);
    return t;
  }

  const dev = <T = Record<string, unknown>>(sim: Sim, path: string, body?: unknown) =>
    simulatorDev<T>(sim.base, path, body);
  const downloads = async (sim: Sim) => (await dev<{ downloads: number }>(sim, '/dev/v3/certificates')).downloads;
  /** The first download starts at listen(); a payment made before it ends waits for it, so tests wait too. */
  const firstDownload = async (sim: Sim, t: TestServer) => {
    for (let i = 0; i < 200 && !t.logs.some((l) => l.includes('platform certificates')); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(await downloads(sim)).toBe(1);
  };

  async function login(t: TestServer, sim: Sim): Promise<string> {
    const { code } = await sim.loginCode();
    const res = await t.gql<{ login: { token: string } }>(LOGIN, { code });
    if (!res.data?.login) throw new Error(`login failed: ${res.text}`);
    return res.data.login.token;
  }
  const pay = async (t: TestServer, sim: Sim, params: PayParams) => {
    const res = await fetch(`${sim.base}/dev/request-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        appId: SIMULATOR_IDENTITY.appid,
        ...params,
        notifyUrls: [`${t.url}/notify/v3`],
      }),
    });
    return { status: res.status, body: (await res.json()) as PaymentAnswer };
  };
  const status = async (t: TestServer, token: string, outTradeNo: string, refresh = false) =>
    (await t.gql<{ order: { status: string } }>(ORDER, { o: outTradeNo, r: refresh }, token)).data!.order.status;
  const verdicts = async (t: TestServer) =>
    (
      (await t.server.orm.em
        .fork()
        .getConnection()
        .execute('select verdict from payment_notifications order by id')) as { verdict: string }[]
    ).map((r) => r.verdict);
  const paymentCode = async (t: TestServer, token: string) =>
    codeOf(await t.gql('mutation { createPayment(money: 7) { order { outTradeNo } } }', {}, token));

  it('when no public key is configured, then the certificates are downloaded, createPayment verifies under the certificate and its notify makes the order PAID', async () => {
    const sim = await simulator([certA]);
    const t = await server(sim);
    await firstDownload(sim, t);
    const token = await login(t, sim);
    const { order, payParams } = await createPayment(t, token, 123);
    expect(payParams.signType).toBe('RSA');
    const paid = await pay(t, sim, payParams);
    expect(paid.body.errMsg).toBe('requestPayment:ok');
    expect(paid.body.deliveries?.[0]).toMatchObject({ status: 204 });
    expect(await status(t, token, order.outTradeNo)).toBe('PAID');
    expect(await verdicts(t)).toEqual(['PAID']);
    // The query's answer is verified the same way.
    expect(await status(t, token, order.outTradeNo, true)).toBe('PAID');
    expect(t.logs.join('\n')).toContain(certA.serial);
    expect(t.logs.join('\n')).not.toContain('PRIVATE KEY');
    expect(t.logs.join('\n')).not.toContain(SIMULATOR_IDENTITY.apiV3Key);
  });

  it('when an answer names a serial not held, then the certificates are downloaded once more, and an unknown one again within the minute is not', async () => {
    const sim = await simulator([certA]);
    const t = await server(sim);
    await firstDownload(sim, t);
    const token = await login(t, sim);
    // WeChat rotates: a new certificate signs from now on.
    await dev(sim, '/dev/v3/certificates', { certificates: [pemOf(certA), pemOf(certB)], signer: certB.serial });
    const { order } = await createPayment(t, token, 5);
    expect(order.outTradeNo).toBeTruthy();
    expect(await downloads(sim)).toBe(2);
    // A notify signed under B verifies with no further download.
    expect(await status(t, token, order.outTradeNo, true)).toBe('PENDING');
    expect(await downloads(sim)).toBe(2);
    // A third certificate WeChat does not list yet: one more download would not help, and the minute is not over.
    const certC = createPlatformCertificate();
    await dev(sim, '/dev/v3/certificates', { certificates: [pemOf(certC)], signer: certC.serial });
    expect(await paymentCode(t, token)).toBe('WECHAT_UNAVAILABLE');
    expect(await downloads(sim)).toBe(2);
    expect(t.logs.join('\n')).toContain('not downloading again so soon');
  });

  it('when the certificate that signs has expired, then it is not used and the answer is refused', async () => {
    const sim = await simulator([certA, expired]);
    const t = await server(sim);
    await firstDownload(sim, t);
    const token = await login(t, sim);
    // Signed by the valid one: accepted.
    const { order } = await createPayment(t, token, 9);
    expect(order.outTradeNo).toBeTruthy();
    // Signed by the expired one, which the download carried: refused, after the one re-download it may trigger.
    await dev(sim, '/dev/v3/certificates', { signer: expired.serial });
    expect(await paymentCode(t, token)).toBe('WECHAT_UNAVAILABLE');
    expect(await downloads(sim)).toBe(2);
  });

  it('when encrypt_certificate is sealed under another key, then it is refused and nothing verifies: payments are WECHAT_UNAVAILABLE', async () => {
    const sim = await simulator([certA]);
    await dev(sim, '/dev/v3/certificates', { fault: 'key' });
    const t = await server(sim);
    await firstDownload(sim, t);
    const logs = t.logs.join('\n');
    expect(logs).toContain('does not decrypt with the APIv3 key (AUTH)');
    expect(logs).toContain('v3 payments answer WECHAT_UNAVAILABLE until one succeeds');
    const token = await login(t, sim);
    expect(await paymentCode(t, token)).toBe('WECHAT_UNAVAILABLE');
    // Its one triggered re-download met the same fault.
    expect(await downloads(sim)).toBe(2);
  });

  it('when the download fails at start, then the server starts, says so, refuses payments with WECHAT_UNAVAILABLE, and takes them once a retried download succeeds', async () => {
    const sim = await simulator([certA]);
    await dev(sim, '/dev/v3/certificates', { fault: 'down' });
    const t = await server(sim, { WECHAT_PAY_CERTIFICATES_RETRY_SECONDS: '1' });
    await firstDownload(sim, t);
    expect(t.logs.join('\n')).toContain('download failed and none is held');
    const token = await login(t, sim);
    expect(await paymentCode(t, token)).toBe('WECHAT_UNAVAILABLE');
    // WeChat is back: the retry timer (every WECHAT_PAY_CERTIFICATES_RETRY_SECONDS while none is held) brings them in.
    await dev(sim, '/dev/v3/certificates', { fault: null });
    expect(
      await eventually(async () => t.logs.some((l) => l.includes('platform certificates downloaded')), 10_000),
    ).toBe(true);
    const { order } = await createPayment(t, token, 21);
    expect(order.status).toBe('PENDING');
  });

  it('when a notify names a serial not held, then it triggers the re-download and is taken', async () => {
    const sim = await simulator([certA]);
    const t = await server(sim);
    await firstDownload(sim, t);
    const token = await login(t, sim);
    const { order, payParams } = await createPayment(t, token, 31);
    await dev(sim, '/dev/v3/certificates', { certificates: [pemOf(certA), pemOf(certB)], signer: certB.serial });
    expect((await pay(t, sim, payParams)).body.deliveries?.[0]).toMatchObject({ status: 204 });
    expect(await downloads(sim)).toBe(2);
    expect(await status(t, token, order.outTradeNo)).toBe('PAID');
  });

  it('when both the public key and certificates are configured (a switch), then answers under either serial are accepted', async () => {
    const sim = await simulator([certA]);
    const platform = await dev<{ publicKeyPem: string; publicKeyId: string }>(sim, '/dev/v3/platform');
    const pubPath = join(dir, 'pub_key.pem');
    writeFileSync(pubPath, platform.publicKeyPem);
    const t = await server(sim, {
      WECHAT_PAY_PUBLIC_KEY_PEM: pubPath,
      WECHAT_PAY_PUBLIC_KEY_ID: platform.publicKeyId,
      WECHAT_PAY_PLATFORM_CERTIFICATES: 'on',
    });
    await firstDownload(sim, t);
    const token = await login(t, sim);
    const a = await createPayment(t, token, 11);
    await dev(sim, '/dev/v3/certificates', { signer: 'public-key' });
    const b = await createPayment(t, token, 12);
    // Notifies under the public key, then under the certificate: both settle.
    expect((await pay(t, sim, b.payParams)).body.deliveries?.[0]).toMatchObject({ status: 204 });
    await dev(sim, '/dev/v3/certificates', { signer: certA.serial });
    expect((await pay(t, sim, a.payParams)).body.deliveries?.[0]).toMatchObject({ status: 204 });
    expect(await status(t, token, a.order.outTradeNo)).toBe('PAID');
    expect(await status(t, token, b.order.outTradeNo)).toBe('PAID');
    expect(await downloads(sim)).toBe(1);
  });

  it('when certificate mode is asked off without a public key, or the public key comes without its id, then the config is refused', () => {
    const env = {
      NODE_ENV: 'test',
      WECHAT_APPID: SIMULATOR_IDENTITY.appid,
      WECHAT_SECRET: SIMULATOR_IDENTITY.secret,
      WECHAT_MCH_ID: SIMULATOR_IDENTITY.mchId,
      WECHAT_NOTIFY_URL: 'https://example.com/notify/v3',
      WECHAT_PAY_API: 'v3',
      WECHAT_PAY_MCH_SERIAL: SIMULATOR_IDENTITY.mchSerial,
      WECHAT_PAY_MCH_PRIVATE_KEY_PEM: keyPath,
      WECHAT_PAY_API_V3_KEY: SIMULATOR_IDENTITY.apiV3Key,
    };
    expect(loadConfig(env).pay?.v3?.platformCertificates).toBe(true);
    expect(() => loadConfig({ ...env, WECHAT_PAY_PLATFORM_CERTIFICATES: 'off' })).toThrow(
      /WECHAT_PAY_PLATFORM_CERTIFICATES: off needs/,
    );
    expect(() => loadConfig({ ...env, WECHAT_PAY_PUBLIC_KEY_PEM: join(dir, 'nope.pem') })).toThrow(
      /WECHAT_PAY_PUBLIC_KEY_ID together/,
    );
    const publicKeyMode = {
      ...env,
      WECHAT_PAY_PUBLIC_KEY_PEM: join(dir, 'pub_key.pem'),
      WECHAT_PAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0114232134912410000000000000000000',
    };
    expect(loadConfig(publicKeyMode).pay?.v3?.platformCertificates).toBe(false);
    expect(loadConfig({ ...publicKeyMode, WECHAT_PAY_PLATFORM_CERTIFICATES: 'on' }).pay?.v3?.platformCertificates).toBe(
      true,
    );
  });
});

describe('a captured /v3/certificates answer (wechatpay-java TestConfig.DOWNLOAD_CERTIFICATE_RESPONSE)', () => {
  const fixtures = join(__dirname, '..', 'fixtures', 'wechatpay-v3');
  const index = JSON.parse(readFileSync(join(fixtures, 'index.json'), 'utf8')) as {
    aead: { name: string; apiV3Key: string; nonce: string; ciphertext: string; certificateSerial?: string }[];
  };
  const vector = index.aead.find((v) => v.certificateSerial)!;
  const body = (ciphertext: string, serial = vector.certificateSerial!) =>
    JSON.stringify({
      data: [
        {
          serial_no: serial,
          effective_time: '2018-01-01T00:00:00+08:00',
          expire_time: '2099-01-01T00:00:00+08:00',
          encrypt_certificate: {
            algorithm: 'AEAD_AES_256_GCM',
            nonce: vector.nonce,
            associated_data: 'certificate',
            ciphertext,
          },
        },
      ],
    });

  it('when decrypted with its APIv3 key, then it is an X.509 certificate under its serial, with its own validity', () => {
    const { certificates, problems } = readCertificates(body(vector.ciphertext), vector.apiV3Key);
    expect(problems).toEqual([]);
    expect(certificates).toHaveLength(1);
    const [cert] = certificates;
    expect(cert.serial).toBe('5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC');
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    // The certificate's own dates narrow WeChat's wider effective/expire times.
    expect(cert.notBefore).toBeGreaterThan(Date.parse('2018-01-01T00:00:00+08:00'));
    expect(cert.notAfter).toBeLessThan(Date.parse('2099-01-01T00:00:00+08:00'));
    expect(validAt(cert, cert.notAfter)).toBe(false);
    expect(validAt(cert, cert.notBefore)).toBe(true);
  });

  it('when a byte of the ciphertext, the key or the serial is wrong, then the certificate is dropped with a reason', () => {
    const flipped = Buffer.from(vector.ciphertext, 'base64');
    flipped[10] ^= 1;
    const cases = [
      readCertificates(body(flipped.toString('base64')), vector.apiV3Key),
      readCertificates(body(vector.ciphertext), 'b'.repeat(32)),
      readCertificates(body(vector.ciphertext, 'ABCDEF'), vector.apiV3Key),
    ];
    for (const c of cases) expect(c.certificates).toEqual([]);
    expect(cases.map((c) => c.problems[0])).toEqual([
      expect.stringContaining('does not decrypt with the APIv3 key (AUTH)'),
      expect.stringContaining('does not decrypt with the APIv3 key (AUTH)'),
      expect.stringContaining("the certificate's own serial is 5DEA10EF"),
    ]);
  });

  it('when the associated_data is not "certificate", then it is refused before decrypting', () => {
    const sealed = encryptResource('not a certificate', vector.apiV3Key, 'transaction', 'certificate');
    const { certificates, problems } = readCertificates(
      JSON.stringify({ data: [{ serial_no: 'AB', encrypt_certificate: sealed }] }),
      vector.apiV3Key,
    );
    expect(certificates).toEqual([]);
    expect(problems[0]).toContain('associated_data');
  });
});
