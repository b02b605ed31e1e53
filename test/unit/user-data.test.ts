import { createDecipheriv, randomBytes } from 'node:crypto';
import { decodeBase64Strict, decryptUserData, encryptUserData, padPkcs7, unpadPkcs7 } from '../../src/wechat/user-data';
import { AppError } from '../../src/core/errors';

const appid = 'wx1234567890abcdef';
const openid = 'oTESTopenid000000000000000001';
const sessionKey = randomBytes(16).toString('base64');
const now = 1_800_000_000;

const sealed = (payload: object, key = sessionKey) => encryptUserData(payload, key);
const profile = { openId: openid, nickName: '测试🐱👍', gender: 1, watermark: { appid, timestamp: now } };
const decrypt = (x: { encryptedData: string; iv: string }, over: Partial<Parameters<typeof decryptUserData>[0]> = {}) =>
  decryptUserData({ sessionKey, appid, openid, maxAgeSeconds: 0, nowSeconds: now, ...x, ...over });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : `non-AppError: ${String(e)}`;
  }
  return undefined;
}

describe('decryptUserData', () => {
  it('when data was sealed with the session key, then it decrypts to the same object', () => {
    expect(decrypt(sealed(profile))).toEqual(profile);
  });

  it('when the last block is tampered, then padding verification rejects it', () => {
    const s = sealed(profile);
    const bytes = Buffer.from(s.encryptedData, 'base64');
    bytes[bytes.length - 1] ^= 0x5a;
    expect(codeOf(() => decrypt({ ...s, encryptedData: bytes.toString('base64') }))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when a middle block is tampered, then the garbled plaintext is rejected', () => {
    const s = sealed({ ...profile, city: 'x'.repeat(64) });
    const bytes = Buffer.from(s.encryptedData, 'base64');
    bytes[20] ^= 0x01;
    expect(codeOf(() => decrypt({ ...s, encryptedData: bytes.toString('base64') }))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when the watermark names another appid, then it is rejected', () => {
    expect(
      codeOf(() => decrypt(sealed({ ...profile, watermark: { appid: 'wxother0000000000', timestamp: now } }))),
    ).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when the watermark is missing, then it is rejected', () => {
    const { watermark: _, ...rest } = profile;
    expect(codeOf(() => decrypt(sealed(rest)))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when openId is another user, then it is rejected', () => {
    expect(codeOf(() => decrypt(sealed({ ...profile, openId: 'oSomebodyElse' })))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when the plaintext has no openId, then it is rejected', () => {
    const { openId: _, ...rest } = profile;
    expect(codeOf(() => decrypt(sealed(rest)))).toBe('WECHAT_DECRYPT_FAILED');
    expect(codeOf(() => decrypt(sealed({ ...profile, openId: null })))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when the iv is rewritten so the first block reads {"unionId":"EVIL, then the forged JSON is well-formed but rejected', () => {
    const s = sealed(profile);
    const original = Buffer.from(JSON.stringify(profile)).subarray(0, 16);
    const wanted = Buffer.from('{"unionId":"EVIL');
    const iv = Buffer.from(s.iv, 'base64');
    for (let i = 0; i < 16; i++) iv[i] ^= original[i] ^ wanted[i];
    const forged = { ...s, iv: iv.toString('base64') };
    // The attack works on the bytes: padding, UTF-8, JSON and watermark all still pass.
    const decipher = createDecipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv).setAutoPadding(false);
    const plain = JSON.parse(
      unpadPkcs7(Buffer.concat([decipher.update(Buffer.from(s.encryptedData, 'base64')), decipher.final()])).toString(
        'utf8',
      ),
    ) as Record<string, unknown>;
    expect(plain).toMatchObject({
      unionId: `EVIL${openid.slice(5)}`,
      nickName: profile.nickName,
      watermark: profile.watermark,
    });
    expect(plain.openId).toBeUndefined();
    expect(codeOf(() => decrypt(forged))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when a max age is set and the watermark is older, then it is rejected; within it, accepted', () => {
    const s = sealed({ ...profile, watermark: { appid, timestamp: now - 600 } });
    expect(codeOf(() => decrypt(s, { maxAgeSeconds: 300 }))).toBe('WECHAT_DECRYPT_FAILED');
    expect(decrypt(s, { maxAgeSeconds: 900 }).nickName).toBe('测试🐱👍');
    expect(decrypt(s, { maxAgeSeconds: 0 }).nickName).toBe('测试🐱👍');
  });

  it('when the key is another session key, then it is rejected', () => {
    expect(codeOf(() => decrypt(sealed(profile, randomBytes(16).toString('base64'))))).toBe('WECHAT_DECRYPT_FAILED');
  });

  it('when the iv is not 16 bytes or the base64 is malformed, then it is BAD_USER_INPUT', () => {
    const s = sealed(profile);
    expect(codeOf(() => decrypt({ ...s, iv: randomBytes(12).toString('base64') }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => decrypt({ ...s, iv: 'not base64!!' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => decrypt({ ...s, encryptedData: s.encryptedData.replace(/\+/g, ' ') + ' ' }))).toBe(
      'BAD_USER_INPUT',
    );
    expect(codeOf(() => decrypt({ ...s, encryptedData: '' }))).toBe('BAD_USER_INPUT');
  });

  it('when valid base64 is not whole AES blocks, then it is WECHAT_DECRYPT_FAILED', () => {
    expect(
      codeOf(() =>
        decrypt({ iv: randomBytes(16).toString('base64'), encryptedData: randomBytes(20).toString('base64') }),
      ),
    ).toBe('WECHAT_DECRYPT_FAILED');
  });
});

describe('PKCS#7', () => {
  it('when padded and unpadded, then the bytes round-trip, including a full padding block', () => {
    for (const len of [0, 1, 15, 16, 17, 31, 32]) {
      const buf = randomBytes(len);
      const padded = padPkcs7(buf);
      expect(padded.length % 16).toBe(0);
      expect(padded.length).toBeGreaterThan(len);
      expect(unpadPkcs7(padded).equals(buf)).toBe(true);
    }
  });

  it('when a padding byte disagrees with the count, then it is rejected', () => {
    const padded = padPkcs7(Buffer.from('hello'));
    padded[padded.length - 3] = 0x01;
    expect(() => unpadPkcs7(padded)).toThrow(AppError);
    expect(() => unpadPkcs7(Buffer.concat([Buffer.alloc(15, 1), Buffer.from([0])]))).toThrow(AppError);
    expect(() => unpadPkcs7(Buffer.concat([Buffer.alloc(15, 1), Buffer.from([17])]))).toThrow(AppError);
  });
});

describe('decodeBase64Strict', () => {
  it('when the input is canonical base64, then it decodes; when a + became a space, then it is refused', () => {
    expect(decodeBase64Strict('+/8=', 'x').equals(Buffer.from([0xfb, 0xff]))).toBe(true);
    expect(() => decodeBase64Strict(' /8=', 'x')).toThrow(/not valid base64/);
    expect(() => decodeBase64Strict('abc', 'x')).toThrow(/not valid base64/);
  });
});
