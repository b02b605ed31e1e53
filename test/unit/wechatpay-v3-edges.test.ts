import { generateKeyPairSync } from 'node:crypto';
import {
  AUTH_SCHEME,
  authorizationHeader,
  decryptResource,
  encryptResource,
  parseAuthorization,
  signV3,
  SIGNTEST_PREFIX,
  V3DecryptError,
  v3Message,
  verifyV3,
  verifyWechatpaySignature,
  wechatpaySignatureHeaders,
  type EncryptedResource,
} from '../../src/wechat/v3/crypto';

/** Bad input to the v3 crypto: verifiers say false and never throw; decryption throws one typed error with no secret. */
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const body = '{"id":"EV-2018022511223320873","resource":{"algorithm":"AEAD_AES_256_GCM"},"summary":"支付成功"}';
const headers = { timestamp: '1554209980', nonce: 'c5ac7061fccab6bf3e254dcf98995b8c' };
const good = { ...headers, signature: signV3(v3Message(headers.timestamp, headers.nonce, body), platform.privateKey) };

/** Runs `f`: its result, or the error it threw (a verifier must never get there). */
const outcome = (f: () => boolean) => {
  try {
    return f();
  } catch (e) {
    return `threw ${String(e)}`;
  }
};

describe('verifyV3 and verifyWechatpaySignature on bad input', () => {
  it('when the signature is good, then it verifies (the control for every case below)', () => {
    expect(verifyWechatpaySignature(good, body, platform.publicKey)).toBe(true);
  });

  const notBase64 = [
    ['empty', ''],
    ['not base64 at all', 'not base64!!'],
    ['base64url alphabet', good.signature.replaceAll('+', '-').replaceAll('/', '_')],
    ['a line break inside', `${good.signature.slice(0, 64)}\n${good.signature.slice(64)}`],
    ['a space in front', ` ${good.signature}`],
    ['padding only', '===='],
    ['too much padding', `${good.signature}=`],
    ['a truncated signature', good.signature.slice(0, 100)],
    ['valid base64 of the wrong length', Buffer.from('short').toString('base64')],
    ['a non-ASCII character', `${good.signature.slice(0, -2)}é=`],
  ] as const;

  it.each(notBase64)('when the signature is %s, then both are false without throwing', (_what, signature) => {
    expect(outcome(() => verifyWechatpaySignature({ ...headers, signature }, body, platform.publicKey))).toBe(false);
    expect(
      outcome(() => verifyV3(v3Message(headers.timestamp, headers.nonce, body), signature, platform.publicKey)),
    ).toBe(false);
  });

  it('when the key is another one, then false', () => {
    expect(outcome(() => verifyWechatpaySignature(good, body, other.publicKey))).toBe(false);
  });

  it('when the key is not a key at all, then false without throwing', () => {
    for (const key of [
      '',
      'not a pem',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      Buffer.from([1, 2, 3]),
    ])
      expect(outcome(() => verifyWechatpaySignature(good, body, key))).toBe(false);
  });

  it('when the key given is the private key, then its public half verifies (one PEM may serve both in the simulator)', () => {
    expect(verifyWechatpaySignature(good, body, platform.privateKey)).toBe(true);
  });

  it.each([0, 1, Math.floor(body.length / 2), body.length - 1])(
    'when byte %i of the body is changed, then false',
    (i) => {
      const bytes = Buffer.from(body, 'utf8');
      bytes[i] ^= 0x01;
      const tampered = bytes.toString('utf8');
      expect(tampered).not.toBe(body);
      expect(outcome(() => verifyWechatpaySignature(good, tampered, platform.publicKey))).toBe(false);
    },
  );

  it('when the body is the same JSON laid out differently, then false (the exact bytes are signed)', () => {
    const relaid = JSON.stringify(JSON.parse(body), null, 1);
    expect(outcome(() => verifyWechatpaySignature(good, relaid, platform.publicKey))).toBe(false);
  });

  it('when the signature carries the SIGNTEST prefix, then false even when what follows would verify', () => {
    for (const signature of [SIGNTEST_PREFIX + good.signature, SIGNTEST_PREFIX, `${SIGNTEST_PREFIX}AAAA`])
      expect(outcome(() => verifyWechatpaySignature({ ...headers, signature }, body, platform.publicKey))).toBe(false);
    expect(SIGNTEST_PREFIX).toBe('WECHATPAY/SIGNTEST/');
  });

  it('when a signed answer has an empty body (204), then its last line is empty and it verifies only over ""', () => {
    const signed = wechatpaySignatureHeaders('', platform.privateKey, 'PUB_KEY_ID_1', 1554209980);
    const h = {
      timestamp: signed['wechatpay-timestamp'],
      nonce: signed['wechatpay-nonce'],
      signature: signed['wechatpay-signature'],
    };
    expect(h.timestamp).toBe('1554209980');
    expect(signed['wechatpay-serial']).toBe('PUB_KEY_ID_1');
    expect(verifyWechatpaySignature(h, '', platform.publicKey)).toBe(true);
    expect(verifyWechatpaySignature(h, '\n', platform.publicKey)).toBe(false);
  });
});

describe('decryptResource on bad input', () => {
  const apiV3Key = 'Jb4dq2tRk8Lw9PzXc3Vn6Hs1Gf5Ym7Qe';
  const plaintext = '{"mchid":"1900007291","out_trade_no":"SECRET-PLAINTEXT-7f3a","amount":{"total":1}}';
  const resource = encryptResource(plaintext, apiV3Key, 'transaction', 'transaction', 'fdasflkja484');

  /** The V3DecryptError `f` throws, checked to carry neither the key nor the plaintext nor any part of them. */
  const refusal = (f: () => unknown, key = apiV3Key) => {
    let error: unknown;
    try {
      f();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(V3DecryptError);
    const e = error as V3DecryptError;
    const shown = [e.message, String(e), e.stack ?? '', JSON.stringify(e), JSON.stringify(Object.entries(e))].join(
      '\n',
    );
    for (const secret of [key, plaintext, 'SECRET-PLAINTEXT', key.slice(0, 8), key.slice(-8)].filter(
      (s) => s.length >= 4,
    ))
      expect(shown).not.toContain(secret);
    expect(e.cause).toBeUndefined();
    return e.reason;
  };
  const flip = (b64: string, at: number) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[at < 0 ? bytes.length + at : at] ^= 0x01;
    return bytes.toString('base64');
  };

  it('when nothing is wrong, then it decrypts (the control for every case below)', () => {
    expect(decryptResource(resource, apiV3Key)).toBe(plaintext);
  });

  it('when the key is another 32-character key, then AUTH', () => {
    expect(refusal(() => decryptResource(resource, 'Jb4dq2tRk8Lw9PzXc3Vn6Hs1Gf5Ym7Qf'))).toBe('AUTH');
  });

  it.each([
    ['the last byte of the tag', (r: EncryptedResource) => ({ ...r, ciphertext: flip(r.ciphertext, -1) })],
    ['the first byte of the tag', (r: EncryptedResource) => ({ ...r, ciphertext: flip(r.ciphertext, -16) })],
    ['the first byte of the ciphertext', (r: EncryptedResource) => ({ ...r, ciphertext: flip(r.ciphertext, 0) })],
    [
      'a byte cut from the ciphertext',
      (r: EncryptedResource) => ({
        ...r,
        ciphertext: Buffer.from(r.ciphertext, 'base64').subarray(1).toString('base64'),
      }),
    ],
    ['the associated data', (r: EncryptedResource) => ({ ...r, associated_data: 'refund' })],
    ['the associated data missing', (r: EncryptedResource) => ({ ...r, associated_data: undefined })],
    ['the nonce', (r: EncryptedResource) => ({ ...r, nonce: 'fdasflkja485' })],
    ['a longer nonce', (r: EncryptedResource) => ({ ...r, nonce: `${r.nonce}0` })],
  ] as const)('when %s is tampered with, then AUTH', (_what, tamper) => {
    expect(refusal(() => decryptResource(tamper(resource), apiV3Key))).toBe('AUTH');
  });

  it.each(['AEAD_AES_128_GCM', 'aead_aes_256_gcm', 'AEAD_AES_256_GCM ', 'AEAD_SM4_GCM', ''])(
    'when the algorithm is %j, then ALGORITHM',
    (algorithm) => {
      expect(refusal(() => decryptResource({ ...resource, algorithm }, apiV3Key))).toBe('ALGORITHM');
    },
  );

  it.each([
    ['31 characters', apiV3Key.slice(0, 31)],
    ['33 characters', `${apiV3Key}x`],
    ['16 characters (an AES-128 key)', apiV3Key.slice(0, 16)],
    ['empty', ''],
    ['32 characters but more than 32 bytes', `${apiV3Key.slice(0, 31)}密`],
  ])('when the APIv3 key is %s, then KEY', (_what, key) => {
    expect(refusal(() => decryptResource(resource, key), key.length >= 4 ? key : apiV3Key)).toBe('KEY');
  });

  it.each([
    ['empty', ''],
    ['the tag alone (16 bytes)', Buffer.alloc(16).toString('base64')],
    ['shorter than a tag', Buffer.alloc(5).toString('base64')],
    ['not base64', '!!!!'],
  ])('when the ciphertext is %s, then SHAPE', (_what, ciphertext) => {
    expect(refusal(() => decryptResource({ ...resource, ciphertext }, apiV3Key))).toBe('SHAPE');
  });

  it('when the nonce is empty or missing, then SHAPE', () => {
    expect(refusal(() => decryptResource({ ...resource, nonce: '' }, apiV3Key))).toBe('SHAPE');
    expect(refusal(() => decryptResource({ ...resource, nonce: undefined as unknown as string }, apiV3Key))).toBe(
      'SHAPE',
    );
  });

  it('when a refusal is logged, then its message names the reason only', () => {
    const e = new V3DecryptError('AUTH');
    expect(e.message).toBe('v3 resource does not decrypt (AUTH)');
    expect(e.name).toBe('V3DecryptError');
  });
});

describe('parseAuthorization on bad input', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const header = authorizationHeader({
    mchid: '1900009191',
    serialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
    privateKey,
    method: 'GET',
    url: '/v3/certificates',
    body: '',
    timestamp: '1554208460',
    nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
  });
  const fields = header.slice(AUTH_SCHEME.length + 1);

  it('when the header is ours, then all five fields come back (the control)', () => {
    expect(parseAuthorization(header)).toMatchObject({ mchid: '1900009191', timestamp: '1554208460' });
  });

  it('when the fields come in another order with an extra one, then they still parse (WeChat: order does not matter)', () => {
    const reordered = `${AUTH_SCHEME} ${fields.split(',').reverse().join(',')},extra="1"`;
    expect(parseAuthorization(reordered)).toEqual(parseAuthorization(header));
  });

  it.each([
    ['undefined', undefined],
    ['empty', ''],
    ['another scheme', `Bearer ${fields}`],
    ['the scheme in lower case', `${AUTH_SCHEME.toLowerCase()} ${fields}`],
    ['the scheme with no space', `${AUTH_SCHEME}${fields}`],
    ['the scheme alone', AUTH_SCHEME],
    ['the scheme and a space', `${AUTH_SCHEME} `],
    ['a leading space', ` ${header}`],
    ['another WeChat scheme', `WECHATPAY2-SM2-WITH-SM3 ${fields}`],
  ])('when the header is %s, then undefined', (_what, value) => {
    expect(parseAuthorization(value)).toBeUndefined();
  });

  it.each(['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'])(
    'when %s is missing or empty, then undefined',
    (name) => {
      const without = fields
        .split(',')
        .filter((f) => !f.startsWith(`${name}=`))
        .join(',');
      expect(parseAuthorization(`${AUTH_SCHEME} ${without}`)).toBeUndefined();
      const emptied = fields.replace(new RegExp(`${name}="[^"]*"`), `${name}=""`);
      expect(parseAuthorization(`${AUTH_SCHEME} ${emptied}`)).toBeUndefined();
    },
  );

  it('when values are not quoted, then undefined', () => {
    expect(parseAuthorization(`${AUTH_SCHEME} ${fields.replaceAll('"', '')}`)).toBeUndefined();
  });
});
