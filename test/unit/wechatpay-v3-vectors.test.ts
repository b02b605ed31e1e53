import { createDecipheriv, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authorizationHeader,
  decryptResource,
  encryptResource,
  parseAuthorization,
  requestPaymentSignV3,
  signV3,
  SIGNTEST_PREFIX,
  V3DecryptError,
  v3Message,
  verifyAuthorization,
  verifyV3,
  verifyWechatpaySignature,
  type EncryptedResource,
} from '../../src/wechat/v3/crypto';

/**
 * WeChat Pay v3 as others wrote it down: WeChat's documented examples and the test vectors of the official SDKs
 * (wechatpay-java, wechatpay-go) and of wechatpay-axios-plugin. test/fixtures/wechatpay-v3/index.json names each
 * one's source. Every expected value here was made outside this code.
 */
const dir = join(__dirname, '../fixtures/wechatpay-v3');
const file = (name: string) => readFileSync(join(dir, name), 'utf8');
const index = JSON.parse(file('index.json')) as {
  files: Record<string, unknown>;
  rsa: {
    name: string;
    privateKey: string;
    certificate: string;
    wrongKey?: string;
    message: string;
    signature: string;
  }[];
  answers: {
    name: string;
    publicKey: string;
    headers: { timestamp: string; nonce: string; serial: string; signature: string };
    body?: string;
    bodyFile?: string;
  }[];
  aead: {
    name: string;
    apiV3Key: string;
    nonce: string;
    associated_data: string;
    ciphertext: string;
    plaintext?: string;
    certificateSerial?: string;
  }[];
  aeadWrongKeySize: {
    name: string;
    apiV3Key: string;
    nonce: string;
    associated_data: string;
    ciphertext?: string;
    resourceFile?: string;
    plaintext: string;
  }[];
  layouts: {
    authorization: {
      method: string;
      url: string;
      timestamp: string;
      nonce: string;
      body: string;
      message: string;
      header: string;
      withTestKey: string;
    };
    answerMessage: { timestamp: string; nonce: string; body: string; message: string };
    paySign: {
      appId: string;
      timeStamp: string;
      nonceStr: string;
      package: string;
      message: string;
      docPaySign: string;
      withTestKey: string;
    };
    signtest: { prefix: string };
  };
};

// wechatpay-go keeps its test key under a "TESTING KEY" label so scanners skip it; its own test relabels it too.
const privateKeyOf = (name: string) => createPrivateKey(file(name).replaceAll('TESTING KEY', 'PRIVATE KEY'));
const publicKeyOf = (name: string) => {
  const pem = file(name);
  return pem.includes('CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
};
const javaMerchantKey = privateKeyOf('wechatpay-java-merchant.published-test-key.pem');
/** The reason of the V3DecryptError `f` throws, or what else happened. */
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof V3DecryptError ? e.reason : `not a V3DecryptError: ${String(e)}`;
  }
  return 'did not throw';
};
const aeadResource = (v: { ciphertext: string; nonce: string; associated_data: string }): EncryptedResource => ({
  algorithm: 'AEAD_AES_256_GCM',
  ciphertext: v.ciphertext,
  nonce: v.nonce,
  associated_data: v.associated_data,
});

describe('the fixture index', () => {
  it('when read, then every key file it lists exists and names where it came from', () => {
    for (const [name, source] of Object.entries(index.files)) {
      expect(file(name).length).toBeGreaterThan(0);
      expect(JSON.stringify(source)).toMatch(/"(repository|doc)":/);
    }
    expect(index.rsa.length + index.answers.length + index.aead.length).toBeGreaterThanOrEqual(8);
  });
});

describe('SHA256withRSA against the SDKs’ published signatures', () => {
  it.each(index.rsa.map((v) => [v.name, v] as const))(
    'when %s is signed with its test key, then signV3 gives the published signature byte for byte',
    (_name, v) => {
      // PKCS#1 v1.5 is deterministic: the same key and message give the same signature in every implementation.
      expect(signV3(v.message, privateKeyOf(v.privateKey))).toBe(v.signature);
    },
  );

  it.each(index.rsa.map((v) => [v.name, v] as const))(
    'when %s is verified with its certificate, then it verifies, and not over another message',
    (_name, v) => {
      const key = publicKeyOf(v.certificate);
      expect(verifyV3(v.message, v.signature, key)).toBe(true);
      expect(verifyV3(`wrong ${v.message}`, v.signature, key)).toBe(false);
      expect(verifyV3(v.message, v.signature, file(v.certificate))).toBe(true);
    },
  );

  it('when the java signature is checked under the other key wechatpay-java ships, then it is false (as its RSAVerifierTest asserts)', () => {
    const v = index.rsa.find((r) => r.wrongKey)!;
    expect(verifyV3(v.message, v.signature, publicKeyOf(v.wrongKey!))).toBe(false);
  });
});

describe('signed answers and notifies from WeChat’s doc and wechatpay-go', () => {
  const cases = index.answers.map((a) => [a.name, { ...a, body: a.body ?? file(a.bodyFile!) }] as const);

  it.each(cases)('when %s is verified over its exact body, then it verifies', (_name, a) => {
    expect(verifyWechatpaySignature(a.headers, a.body, publicKeyOf(a.publicKey))).toBe(true);
  });

  it.each(cases)('when one byte of %s’s body changes, then it does not verify', (_name, a) => {
    const key = publicKeyOf(a.publicKey);
    const i = a.body.indexOf(':');
    const tampered = a.body.slice(0, i + 2) + String.fromCharCode(a.body.charCodeAt(i + 2) ^ 1) + a.body.slice(i + 3);
    expect(tampered).not.toBe(a.body);
    expect(verifyWechatpaySignature(a.headers, tampered, key)).toBe(false);
    // A body re-serialised with a trailing newline (a framework that "fixes" it) is a different body too.
    expect(verifyWechatpaySignature(a.headers, `${a.body}\n`, key)).toBe(false);
  });

  it.each(cases)('when %s’s timestamp or nonce is changed, then it does not verify', (_name, a) => {
    const key = publicKeyOf(a.publicKey);
    expect(
      verifyWechatpaySignature({ ...a.headers, timestamp: String(Number(a.headers.timestamp) + 1) }, a.body, key),
    ).toBe(false);
    expect(verifyWechatpaySignature({ ...a.headers, nonce: a.headers.nonce.toUpperCase() }, a.body, key)).toBe(false);
  });

  it.each(cases)('when %s is checked under another key, then it is false', (_name, a) => {
    const other = index.answers.find((b) => b.publicKey !== a.publicKey)!;
    expect(verifyWechatpaySignature(a.headers, a.body, publicKeyOf(other.publicKey))).toBe(false);
  });

  it.each(cases)(
    'when %s’s signature comes as a SIGNTEST probe, then it is false though the rest would verify',
    (_name, a) => {
      expect(SIGNTEST_PREFIX).toBe(index.layouts.signtest.prefix);
      const key = publicKeyOf(a.publicKey);
      expect(
        verifyWechatpaySignature({ ...a.headers, signature: SIGNTEST_PREFIX + a.headers.signature }, a.body, key),
      ).toBe(false);
      expect(verifyWechatpaySignature({ ...a.headers, signature: SIGNTEST_PREFIX }, a.body, key)).toBe(false);
    },
  );
});

describe('AEAD_AES_256_GCM against the SDKs’ vectors', () => {
  const withPlaintext = index.aead.filter((v) => v.plaintext !== undefined);

  it.each(withPlaintext.map((v) => [v.name, v] as const))(
    'when %s is encrypted with its nonce, then encryptResource gives the published ciphertext',
    (_name, v) => {
      const r = encryptResource(v.plaintext!, v.apiV3Key, v.associated_data, 'transaction', v.nonce);
      expect(r).toEqual({
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: v.ciphertext,
        nonce: v.nonce,
        associated_data: v.associated_data,
        original_type: 'transaction',
      });
    },
  );

  it.each(withPlaintext.filter((v) => v.plaintext !== '').map((v) => [v.name, v] as const))(
    'when %s is decrypted, then decryptResource gives the published plaintext',
    (_name, v) => {
      expect(decryptResource(aeadResource(v), v.apiV3Key)).toBe(v.plaintext);
    },
  );

  it('when the encrypted platform certificate of wechatpay-java’s /v3/certificates answer is decrypted, then it is the certificate with the answer’s serial', () => {
    const v = index.aead.find((a) => a.certificateSerial)!;
    const pem = decryptResource(aeadResource(v), v.apiV3Key);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(new X509Certificate(pem).serialNumber).toBe(v.certificateSerial);
    expect(encryptResource(pem, v.apiV3Key, v.associated_data, 'certificate', v.nonce).ciphertext).toBe(v.ciphertext);
  });

  it('when the tag-only ciphertext of an empty plaintext comes, then it is refused as SHAPE (a resource always carries JSON)', () => {
    const v = index.aead.find((a) => a.plaintext === '')!;
    expect(refusal(() => decryptResource(aeadResource(v), v.apiV3Key))).toBe('SHAPE');
  });

  it.each(index.aeadWrongKeySize.map((v) => [v.name, v] as const))(
    'when %s (a 16-byte key, AES-128 under Go) comes, then decryptResource refuses the key as KEY',
    (_name, v) => {
      const resource: EncryptedResource = v.resourceFile
        ? (JSON.parse(file(v.resourceFile)) as { resource: EncryptedResource }).resource
        : aeadResource({ ...v, ciphertext: v.ciphertext! });
      expect(resource.nonce).toBe(v.nonce);
      expect(resource.associated_data).toBe(v.associated_data);
      // The vector is real: node:crypto's AES-128-GCM reads the published plaintext from it.
      const data = Buffer.from(resource.ciphertext, 'base64');
      const d = createDecipheriv('aes-128-gcm', Buffer.from(v.apiV3Key), Buffer.from(v.nonce));
      d.setAuthTag(data.subarray(-16));
      d.setAAD(Buffer.from(v.associated_data));
      expect(Buffer.concat([d.update(data.subarray(0, -16)), d.final()]).toString()).toBe(v.plaintext);

      expect(refusal(() => decryptResource(resource, v.apiV3Key))).toBe('KEY');
    },
  );
});

describe('message and header layouts from WeChat’s doc', () => {
  const auth = index.layouts.authorization;

  it('when the documented GET /v3/certificates request is laid out, then v3Message gives the documented five lines', () => {
    expect(v3Message(auth.method, auth.url, auth.timestamp, auth.nonce, auth.body)).toBe(auth.message);
  });

  it('when the documented answer is laid out, then v3Message gives the documented three lines', () => {
    const a = index.layouts.answerMessage;
    expect(v3Message(a.timestamp, a.nonce, a.body)).toBe(a.message);
  });

  it('when the documented Authorization header is parsed, then each field is the documented one', () => {
    const header = auth.header;
    const documentedSignature = /signature="([^"]+)"/.exec(header)![1];
    expect(parseAuthorization(header)).toEqual({
      mchid: '1900009191',
      nonce_str: auth.nonce,
      signature: documentedSignature,
      timestamp: auth.timestamp,
      serial_no: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
    });
    // The doc signed with a merchant key it never published: a 2048-bit signature in base64 is all it can prove.
    expect(Buffer.from(documentedSignature, 'base64')).toHaveLength(256);
  });

  it('when authorizationHeader builds the documented request with the java test key, then it is the documented header with the openssl signature', () => {
    const header = authorizationHeader({
      mchid: '1900009191',
      serialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
      privateKey: javaMerchantKey,
      method: 'get',
      url: auth.url,
      body: auth.body,
      timestamp: auth.timestamp,
      nonce: auth.nonce,
    });
    expect(header).toBe(auth.header.replace(/signature="[^"]+"/, `signature="${auth.withTestKey}"`));
    const parsed = parseAuthorization(header)!;
    const certificate = publicKeyOf('wechatpay-java-merchant-certificate.pem');
    expect(verifyAuthorization(parsed, { method: 'GET', url: auth.url, body: '' }, certificate)).toBe(true);
    expect(verifyAuthorization(parsed, { method: 'GET', url: `${auth.url}?x=1`, body: '' }, certificate)).toBe(false);
    expect(verifyAuthorization(parsed, { method: 'POST', url: auth.url, body: '' }, certificate)).toBe(false);
  });

  it('when the documented wx.requestPayment fields are signed with the java test key, then paySign is the openssl signature over the documented four lines', () => {
    const p = index.layouts.paySign;
    const fields = { appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package };
    expect(v3Message(p.appId, p.timeStamp, p.nonceStr, p.package)).toBe(p.message);
    expect(requestPaymentSignV3(fields, javaMerchantKey)).toBe(p.withTestKey);
    expect(verifyV3(p.message, p.withTestKey, publicKeyOf('wechatpay-java-merchant-certificate.pem'))).toBe(true);
    // WeChat's own example paySign has the shape of ours: RSA-2048, 344 base64 characters.
    expect(p.docPaySign).toHaveLength(p.withTestKey.length);
    expect(Buffer.from(p.docPaySign, 'base64')).toHaveLength(256);
  });
});
