import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AxiosAdapter, InternalAxiosRequestConfig } from 'axios';
import { Aes, Formatter, Rsa, Wechatpay } from 'wechatpay-axios-plugin';
import {
  authorizationHeader,
  decryptResource,
  encryptResource,
  parseAuthorization,
  requestPaymentSignV3,
  signV3,
  v3Message,
  verifyAuthorization,
  verifyV3,
  verifyWechatpaySignature,
  wechatpaySignatureHeaders,
} from '../../src/wechat/v3/crypto';

/**
 * Our v3 crypto against a third implementation, wechatpay-axios-plugin (a devDependency only): its Rsa, AesGcm and
 * Formatter, and its whole axios client (request signer and answer verifier) driven through an in-process adapter,
 * so no byte leaves the machine. Keys are made here; none is committed.
 */
const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) =>
  key.export(key.type === 'private' ? { type: 'pkcs8', format: 'pem' } : { type: 'spki', format: 'pem' }) as string;
const apiV3Key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb'.split('').reverse().join('');
const mchid = '1900007291';
const serialNo = '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB';
const platformSerial = 'PUB_KEY_ID_0114232134912410000000000000000000';

describe('SHA256withRSA: the plugin’s Rsa and ours', () => {
  const message = v3Message(
    'POST',
    '/v3/pay/transactions/jsapi',
    '1554208460',
    '593BEC0C930BF1AFEB40B4A08C8FB242',
    '{"a":"支付"}',
  );

  it('when we sign, then its Rsa.verify accepts it, and not over another message', () => {
    const signature = signV3(message, merchant.privateKey);
    expect(Rsa.verify(message, signature, pem(merchant.publicKey))).toBe(true);
    expect(Rsa.verify(`${message} `, signature, pem(merchant.publicKey))).toBe(false);
    expect(Rsa.verify(message, signature, pem(platform.publicKey))).toBe(false);
  });

  it('when its Rsa.sign signs, then our verifyV3 accepts it, and our signature is the same bytes', () => {
    const theirs = Rsa.sign(message, pem(merchant.privateKey));
    expect(verifyV3(message, theirs, merchant.publicKey)).toBe(true);
    expect(signV3(message, merchant.privateKey)).toBe(theirs);
    expect(verifyV3(message, theirs, platform.publicKey)).toBe(false);
  });

  it('when we make a wx.requestPayment paySign, then its Rsa.verify accepts it over appId\\ntimeStamp\\nnonceStr\\npackage\\n', () => {
    const fields = {
      appId: 'wx8888888888888888',
      timeStamp: '1414561699',
      nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      package: 'prepay_id=wx201410272009395522657a690389285100',
    };
    const paySign = requestPaymentSignV3(fields, merchant.privateKey);
    const theirMessage = Formatter.joinedByLineFeed(fields.appId, fields.timeStamp, fields.nonceStr, fields.package);
    expect(Rsa.verify(theirMessage, paySign, pem(merchant.publicKey))).toBe(true);
    expect(Rsa.verify(theirMessage.replace('prepay_id', 'prepay_ID'), paySign, pem(merchant.publicKey))).toBe(false);
  });

  it('when it signs an answer as WeChat would, then our verifyWechatpaySignature accepts it', () => {
    const body = '{"prepay_id":"wx201410272009395522657a690389285100"}';
    const signature = Rsa.sign(
      Formatter.response('1554209980', 'c5ac7061fccab6bf3e254dcf98995b8c', body),
      pem(platform.privateKey),
    );
    const headers = { timestamp: '1554209980', nonce: 'c5ac7061fccab6bf3e254dcf98995b8c', signature };
    expect(verifyWechatpaySignature(headers, body, platform.publicKey)).toBe(true);
    expect(verifyWechatpaySignature(headers, body.replace('wx2014', 'wx2015'), platform.publicKey)).toBe(false);
  });
});

describe('AEAD_AES_256_GCM: the plugin’s AesGcm and ours', () => {
  const plaintext = JSON.stringify({
    mchid,
    out_trade_no: 'T1',
    amount: { total: 1, payer_total: 1 },
    attach: '测试🐱',
  });

  it('when we encrypt a resource, then its AesGcm.decrypt reads the plaintext', () => {
    const r = encryptResource(plaintext, apiV3Key, 'transaction', 'transaction');
    expect(Aes.AesGcm.decrypt(r.ciphertext, apiV3Key, r.nonce, r.associated_data)).toBe(plaintext);
    expect(() => Aes.AesGcm.decrypt(r.ciphertext, apiV3Key, r.nonce, 'refund')).toThrow();
  });

  it('when it encrypts, then our decryptResource reads the plaintext and our encryptResource gives the same bytes', () => {
    const nonce = 'Kj7QIyUiYx1q';
    const ciphertext = Aes.AesGcm.encrypt(plaintext, apiV3Key, nonce, 'refund');
    const resource = {
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext,
      nonce,
      associated_data: 'refund',
      original_type: 'refund',
    };
    expect(decryptResource(resource, apiV3Key)).toBe(plaintext);
    expect(encryptResource(plaintext, apiV3Key, 'refund', 'refund', nonce)).toEqual(resource);
  });
});

describe('the Authorization header: the plugin’s Formatter and ours', () => {
  const input = {
    mchid,
    serialNo,
    privateKey: merchant.privateKey,
    method: 'post',
    url: '/v3/pay/transactions/jsapi',
    body: '{"appid":"wxd678efh567hg6787","amount":{"total":100,"currency":"CNY"}}',
    timestamp: '1554208460',
    nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
  };

  it('when both build the same request, then the signed message is the same and every header field is equal', () => {
    const ours = authorizationHeader(input);
    const theirMessage = Formatter.request('POST', input.url, input.timestamp, input.nonce, input.body);
    expect(theirMessage).toBe(v3Message('POST', input.url, input.timestamp, input.nonce, input.body));
    const theirs = Formatter.authorization(
      mchid,
      input.nonce,
      Rsa.sign(theirMessage, pem(merchant.privateKey)),
      input.timestamp,
      serialNo,
    );
    // The field order differs (WeChat says it does not matter); the fields may not.
    expect(parseAuthorization(theirs)).toEqual(parseAuthorization(ours));
    expect(parseAuthorization(ours)).toEqual({
      mchid,
      nonce_str: input.nonce,
      signature: expect.any(String) as string,
      timestamp: input.timestamp,
      serial_no: serialNo,
    });
  });

  it('when a GET has no body, then both sign an empty fifth line', () => {
    expect(Formatter.request('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242')).toBe(
      v3Message('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242', ''),
    );
  });
});

describe('the plugin’s own client against our checks, in process', () => {
  /** An axios adapter standing in for WeChat: it keeps the request and answers with a body signed by our code. */
  const wechat = (answer: (config: InternalAxiosRequestConfig) => { status: number; body: string; sign?: string }) => {
    const seen: InternalAxiosRequestConfig[] = [];
    const adapter: AxiosAdapter = (config) => {
      seen.push(config);
      const { status, body, sign = body } = answer(config);
      return Promise.resolve({
        data: body,
        status,
        statusText: String(status),
        headers: {
          'content-type': 'application/json',
          ...wechatpaySignatureHeaders(sign, platform.privateKey, platformSerial),
        },
        config,
      });
    };
    const client = new Wechatpay({
      mchid,
      serial: serialNo,
      privateKey: pem(merchant.privateKey),
      certs: { [platformSerial]: pem(platform.publicKey) },
      adapter,
    });
    return { client, seen };
  };
  const order = {
    appid: 'wxd678efh567hg6787',
    mchid,
    description: '测试',
    out_trade_no: 'T2',
    amount: { total: 1, currency: 'CNY' },
  };

  it('when it POSTs jsapi, then our verifyAuthorization accepts its Authorization over the exact bytes it sent, and it accepts our signed answer', async () => {
    const { client, seen } = wechat(() => ({ status: 200, body: '{"prepay_id":"wx2014"}' }));
    const res: { data: unknown } = await client.v3.pay.transactions.jsapi.post(order);
    expect(res.data).toEqual({ prepay_id: 'wx2014' });

    const [config] = seen;
    const auth = parseAuthorization(String(config.headers.Authorization));
    expect(auth).toMatchObject({ mchid, serial_no: serialNo });
    const sent = { method: 'POST', url: '/v3/pay/transactions/jsapi', body: String(config.data) };
    expect(sent.body).toBe(JSON.stringify(order));
    expect(verifyAuthorization(auth!, sent, merchant.publicKey)).toBe(true);
    expect(
      verifyAuthorization(auth!, { ...sent, body: sent.body.replace('"total":1', '"total":2') }, merchant.publicKey),
    ).toBe(false);
    expect(verifyAuthorization(auth!, sent, platform.publicKey)).toBe(false);
  });

  it('when it GETs with a query, then its signature covers PATH?QUERY as we verify it', async () => {
    const { client, seen } = wechat(() => ({ status: 200, body: '{"trade_state":"SUCCESS"}' }));
    await client.v3.pay.transactions.outTradeNo.$out_trade_no$.get({ params: { mchid }, out_trade_no: 'T2' });
    const auth = parseAuthorization(String(seen[0].headers.Authorization))!;
    const url = `/v3/pay/transactions/out-trade-no/T2?mchid=${mchid}`;
    expect(verifyAuthorization(auth, { method: 'GET', url, body: '' }, merchant.publicKey)).toBe(true);
    expect(
      verifyAuthorization(
        auth,
        { method: 'GET', url: '/v3/pay/transactions/out-trade-no/T2', body: '' },
        merchant.publicKey,
      ),
    ).toBe(false);
  });

  it('when our answer’s signature covers other bytes than the body it gets, then its verifier refuses the answer', async () => {
    const { client } = wechat(() => ({ status: 200, body: '{"prepay_id":"wx2014"}', sign: '{"prepay_id":"wx2015"}' }));
    await expect(client.v3.pay.transactions.jsapi.post(order)).rejects.toThrow(/Verify the response's data .* failed/);
  });
});
