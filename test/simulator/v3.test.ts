import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { SimulatorOptions } from '../../src/simulator/simulator.plugin';
import type { V3Platform } from '../../src/simulator/v3-platform';
import {
  authorizationHeader,
  decryptResource,
  type EncryptedResource,
  requestPaymentSignV3,
  SIGNTEST_PREFIX,
  V3DecryptError,
  v3Nonce,
  verifyWechatpaySignature,
} from '../../src/wechat/v3/crypto';
import { paySign } from '../../src/wechat/pay-sign';
import { buildPayXml, parsePayXml } from '../../src/wechat/pay-xml';
import { request as httpsRequest } from 'node:https';
import { markServicesSuite } from '../support/server';
import {
  listenSimulator,
  listenV3Simulator,
  SIM_ID,
  sendV3,
  startMerchant,
  type V3Answer,
} from '../support/simulator-app';
import { createTestCa, simulatorTls } from '../support/test-ca';
import { onServices } from '../support/target';

// In-memory simulator: runs alike on both projects, marked on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

/**
 * The simulated WeChat Pay v3 over real HTTP: requests signed with our crypto and a throwaway merchant key made here,
 * answers and notifies verified with the platform key the simulator announced, notifies caught by a tiny node:http
 * merchant that answers as each test tells it.
 */
const ID = SIM_ID;
const MCH_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const API_V3_KEY = 'v3simulatorapiv3key0000000000000';

const merchantKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

interface Notify {
  headers: IncomingHttpHeaders;
  body: string;
}

let sim: FastifyInstance;
let simUrl: string;
let platform: V3Platform;
let merchant: Awaited<ReturnType<typeof startMerchant>>;
let merchantUrl: string;
const inbox = new Map<string, Notify[]>();
/** How many times a slot answers 500 before it answers 204. */
const failures = new Map<string, number>();

const V3 = {
  mchPublicKey: merchantKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  mchSerial: MCH_SERIAL,
  apiV3Key: API_V3_KEY,
};
const startSimulator = (extra: Partial<SimulatorOptions> = {}) =>
  listenV3Simulator(V3, { refundSettleMs: 20, ...extra });

beforeAll(async () => {
  ({ app: sim, url: simUrl, platform } = await startSimulator());
  merchant = await startMerchant(({ url: slot, headers, body }) => {
    inbox.set(slot, [...(inbox.get(slot) ?? []), { headers, body }]);
    const left = failures.get(slot) ?? 0;
    if (left === 0) return { status: 204 };
    failures.set(slot, left - 1);
    return { status: 500, json: { code: 'FAIL', message: 'not yet' } };
  });
  merchantUrl = merchant.url;
});

afterAll(async () => {
  await sim.close();
  await merchant.close();
});

// Asymmetric matchers typed as what they stand for, inside object literals.
const anyString = expect.any(String) as unknown as string;
const matching = (re: RegExp) => expect.stringMatching(re) as unknown as string;

const newNo = (prefix: string) => prefix + randomBytes(8).toString('hex');
const newOpenid = () => 'o' + randomBytes(14).toString('hex').slice(0, 27);
let slots = 0;
const newSlot = () => `/notify/v3-${++slots}`;

/** A v3 call as our client makes it; `sign` lets a test change what the Authorization says or covers. */
async function v3(
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  sign: {
    header?: string;
    mchid?: string;
    serialNo?: string;
    key?: KeyObject;
    timestamp?: string;
    nonce?: string;
    signedUrl?: string;
    signedBody?: string;
    rawBody?: string;
  } = {},
  base = simUrl,
): Promise<V3Answer> {
  const text = sign.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
  const authorization =
    sign.header ??
    authorizationHeader({
      mchid: sign.mchid ?? ID.mchId,
      serialNo: sign.serialNo ?? MCH_SERIAL,
      privateKey: sign.key ?? merchantKey.privateKey,
      method,
      url: sign.signedUrl ?? url,
      body: sign.signedBody ?? text,
      timestamp: sign.timestamp,
      nonce: sign.nonce,
    });
  return sendV3(base, method, url, text, authorization);
}

/** Does the answer verify with the platform key, and name it? */
function answerVerifies(a: { headers: Headers; text: string }, key = platform.publicKeyPem): boolean {
  return (
    a.headers.get('wechatpay-serial') === platform.publicKeyId &&
    verifyWechatpaySignature(
      {
        timestamp: a.headers.get('wechatpay-timestamp') ?? '',
        nonce: a.headers.get('wechatpay-nonce') ?? '',
        signature: a.headers.get('wechatpay-signature') ?? '',
      },
      a.text,
      key,
    )
  );
}

function notifyVerifies(n: Notify): boolean {
  return (
    n.headers['wechatpay-serial'] === platform.publicKeyId &&
    verifyWechatpaySignature(
      {
        timestamp: String(n.headers['wechatpay-timestamp']),
        nonce: String(n.headers['wechatpay-nonce']),
        signature: String(n.headers['wechatpay-signature']),
      },
      n.body,
      platform.publicKeyPem,
    )
  );
}

function opened(n: Notify, key = API_V3_KEY) {
  const envelope = JSON.parse(n.body) as { event_type: string; resource_type: string; resource: EncryptedResource };
  return { envelope, resource: JSON.parse(decryptResource(envelope.resource, key)) as Record<string, unknown> };
}

async function waitFor<T>(check: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const notifiesAt = (slot: string, count = 1) =>
  waitFor(() => ((inbox.get(slot)?.length ?? 0) >= count ? inbox.get(slot)! : undefined));

function jsapiBody(over: Record<string, unknown> = {}) {
  return {
    appid: ID.appid,
    mchid: ID.mchId,
    description: '测试商品',
    out_trade_no: newNo('T'),
    notify_url: `${merchantUrl}${newSlot()}`,
    amount: { total: 100, currency: 'CNY' },
    payer: { openid: newOpenid() },
    ...over,
  };
}

async function postDev(path: string, body: unknown) {
  const res = await fetch(`${simUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function payParams(prepayId: string, key: KeyObject = merchantKey.privateKey) {
  const p = {
    appId: ID.appid,
    timeStamp: String(Math.floor(Date.now() / 1000)),
    nonceStr: v3Nonce(),
    package: `prepay_id=${prepayId}`,
  };
  return { ...p, signType: 'RSA', paySign: requestPaymentSignV3(p, key) };
}

/** A v3 order placed and paid at the phone; its notify goes to `slot` (or nowhere with deliver false). */
async function paidOrder(total = 100, dev: Record<string, unknown> = { deliver: false }) {
  const slot = newSlot();
  const body = jsapiBody({ amount: { total, currency: 'CNY' }, notify_url: `${merchantUrl}${slot}` });
  const placed = await v3('POST', '/v3/pay/transactions/jsapi', body);
  expect(placed.status).toBe(200);
  const paid = await postDev('/dev/request-payment', { ...payParams(placed.json.prepay_id as string), ...dev });
  expect(paid.body).toMatchObject({ errMsg: 'requestPayment:ok' });
  return {
    outTradeNo: body.out_trade_no,
    slot,
    transactionId: paid.body.transactionId as string,
    openid: body.payer.openid,
  };
}

describe('the platform key', () => {
  it('when the simulator starts in v3 mode, then it announces a public key and a PUB_KEY_ID_ id, also at /dev/v3/platform', async () => {
    expect(platform.publicKeyId).toMatch(/^PUB_KEY_ID_[0-9A-F]{32}$/);
    expect(platform.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const res = await fetch(`${simUrl}/dev/v3/platform`);
    expect(await res.json()).toEqual(platform);
  });

  it('when two simulators start, then each has its own key pair', async () => {
    const other = await startSimulator();
    try {
      expect(other.platform.publicKeyId).not.toBe(platform.publicKeyId);
      expect(other.platform.publicKeyPem).not.toBe(platform.publicKeyPem);
    } finally {
      await other.app.close();
    }
  });

  it('when not in v3 mode, then there are no v3 routes', async () => {
    const { app } = await listenSimulator();
    const res = await app.inject({ method: 'POST', url: '/v3/pay/transactions/jsapi', payload: {} });
    expect(res.statusCode).toBe(404);
    await app.close();
  });
});

describe('Authorization', () => {
  it('when a request is signed right, then it is answered, signed with the platform key, with a Request-ID', async () => {
    const a = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody());
    expect(a.status).toBe(200);
    expect(a.json.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    expect(a.headers.get('request-id')).toBeTruthy();
    expect(answerVerifies(a)).toBe(true);
    expect(answerVerifies(a, otherKey.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toBe(false);
  });

  it('when the body is laid out oddly, then the signature over those exact bytes is what counts', async () => {
    const body = jsapiBody();
    const raw = `{ "payer":{"openid":"${body.payer.openid}"},\n  "amount": {"currency":"CNY","total":1}, "appid":"${ID.appid}","mchid":"${ID.mchId}","description":"测试 ✓","out_trade_no":"${body.out_trade_no}","notify_url":"${body.notify_url}" }`;
    const good = await v3('POST', '/v3/pay/transactions/jsapi', undefined, { rawBody: raw });
    expect(good.status).toBe(200);
    // The same JSON re-serialized is not what was sent: a signature over it must fail.
    const resigned = await v3('POST', '/v3/pay/transactions/jsapi', undefined, {
      rawBody: raw,
      signedBody: JSON.stringify(JSON.parse(raw)),
    });
    expect(resigned.status).toBe(401);
  });

  const refusals: [string, Parameters<typeof v3>[3]][] = [
    ['no Authorization', { header: '' }],
    [
      'another scheme',
      {
        header: 'WECHATPAY2-SHA256-RSA4096 mchid="1900000109",nonce_str="a",signature="b",timestamp="1",serial_no="c"',
      },
    ],
    [
      'a field missing',
      {
        header: `WECHATPAY2-SHA256-RSA2048 mchid="${ID.mchId}",nonce_str="abc",timestamp="${Math.floor(Date.now() / 1000)}",serial_no="${MCH_SERIAL}"`,
      },
    ],
    ['another mchid', { mchid: '1900000110' }],
    ['an unknown serial_no', { serialNo: '0000000000000000000000000000000000000000' }],
    ['a timestamp 6 minutes old', { timestamp: String(Math.floor(Date.now() / 1000) - 360) }],
    ['a timestamp 6 minutes ahead', { timestamp: String(Math.floor(Date.now() / 1000) + 360) }],
    ['a timestamp that is not a number', { timestamp: 'yesterday' }],
    ['a signature by another key', { key: otherKey.privateKey }],
    ['a signature over another body', { signedBody: '{}' }],
    ['a signature over another path', { signedUrl: '/v3/pay/transactions/native' }],
  ];
  it.each(refusals)(
    'when the request has %s, then it is 401 SIGN_ERROR, signed, and nothing is made',
    async (_what, sign) => {
      const body = jsapiBody();
      const a = await v3('POST', '/v3/pay/transactions/jsapi', body, sign);
      expect(a.status).toBe(401);
      expect(a.json).toEqual({ code: 'SIGN_ERROR', message: anyString });
      expect(answerVerifies(a)).toBe(true);
      const res = await fetch(`${simUrl}/dev/orders/${body.out_trade_no}`);
      expect(res.status).toBe(404);
    },
  );

  it('when a timestamp is 4 minutes off, then it still passes', async () => {
    const a = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody(), {
      timestamp: String(Math.floor(Date.now() / 1000) - 240),
    });
    expect(a.status).toBe(200);
  });

  it('when a GET is signed without its query, then it is refused; with it, answered', async () => {
    const { outTradeNo } = await paidOrder();
    const url = `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${ID.mchId}`;
    expect((await v3('GET', url, undefined, { signedUrl: url.split('?')[0] })).status).toBe(401);
    expect((await v3('GET', url)).status).toBe(200);
  });

  it('when a request is replayed with the same Authorization, then the replay is 401 SIGN_ERROR', async () => {
    const body = jsapiBody();
    const header = authorizationHeader({
      mchid: ID.mchId,
      serialNo: MCH_SERIAL,
      privateKey: merchantKey.privateKey,
      method: 'POST',
      url: '/v3/pay/transactions/jsapi',
      body: JSON.stringify(body),
    });
    expect((await v3('POST', '/v3/pay/transactions/jsapi', body, { header })).status).toBe(200);
    const replay = await v3('POST', '/v3/pay/transactions/jsapi', body, { header });
    expect(replay.status).toBe(401);
    expect(replay.json.code).toBe('SIGN_ERROR');
    expect(replay.json.message).toMatch(/replay/);
  });

  it('when a refused request carried a nonce, then that nonce is still free for a good request', async () => {
    const nonce = v3Nonce();
    const body = jsapiBody();
    expect((await v3('POST', '/v3/pay/transactions/jsapi', body, { nonce, key: otherKey.privateKey })).status).toBe(
      401,
    );
    expect((await v3('POST', '/v3/pay/transactions/jsapi', body, { nonce })).status).toBe(200);
  });

  it('when mounted under a prefix, then a signature over the path with or without the prefix verifies', async () => {
    const {
      app,
      url: base,
      platform: prefixed,
    } = await listenV3Simulator(V3, {
      prefix: '/simulator',
    } as Partial<SimulatorOptions>);
    try {
      const full = await v3('POST', '/simulator/v3/pay/transactions/jsapi', jsapiBody(), {}, base);
      expect(full.status).toBe(200);
      const short = await v3(
        'POST',
        '/simulator/v3/pay/transactions/jsapi',
        jsapiBody(),
        {
          signedUrl: '/v3/pay/transactions/jsapi',
        },
        base,
      );
      expect(short.status).toBe(200);
      expect(prefixed.publicKeyId).toMatch(/^PUB_KEY_ID_/);
    } finally {
      await app.close();
    }
  });
});

describe('over HTTPS', () => {
  it('when tls is given, then the v3 API is served on the HTTPS listener too, with no client certificate, on the same ledger', async () => {
    const ca = createTestCa();
    const tls = simulatorTls(ca);
    let httpsBase = '';
    const started = await startSimulator({ tls, onHttps: (base) => (httpsBase = base) });
    try {
      const body = jsapiBody();
      const text = JSON.stringify(body);
      const url = '/v3/pay/transactions/jsapi';
      const authorization = authorizationHeader({
        mchid: ID.mchId,
        serialNo: MCH_SERIAL,
        privateKey: merchantKey.privateKey,
        method: 'POST',
        url,
        body: text,
      });
      const answer = await new Promise<{ status: number; text: string; headers: Headers }>((resolve, reject) => {
        const req = httpsRequest(
          `${httpsBase}${url}`,
          { method: 'POST', ca: tls.ca, headers: { authorization, 'content-type': 'application/json' } },
          (res) => {
            let got = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (got += chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                text: got,
                headers: new Headers(Object.entries(res.headers).map(([k, v]): [string, string] => [k, String(v)])),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(text);
      });
      expect(answer.status).toBe(200);
      const platformThere = started.platform;
      expect(answer.headers.get('wechatpay-serial')).toBe(platformThere.publicKeyId);
      expect(
        verifyWechatpaySignature(
          {
            timestamp: answer.headers.get('wechatpay-timestamp') ?? '',
            nonce: answer.headers.get('wechatpay-nonce') ?? '',
            signature: answer.headers.get('wechatpay-signature') ?? '',
          },
          answer.text,
          platformThere.publicKeyPem,
        ),
      ).toBe(true);
      // The order placed over HTTPS is the one the HTTP side sees.
      const seen = await fetch(`${started.url}/dev/orders/${body.out_trade_no}`);
      expect(seen.status).toBe(200);
    } finally {
      await started.app.close();
    }
  });
});

describe('POST /v3/pay/transactions/jsapi', () => {
  it('when the same order comes again, then the same prepay_id; with other content, INVALID_REQUEST', async () => {
    const body = jsapiBody();
    const first = await v3('POST', '/v3/pay/transactions/jsapi', body);
    const again = await v3('POST', '/v3/pay/transactions/jsapi', body);
    expect(again.json.prepay_id).toBe(first.json.prepay_id);
    const changed = await v3('POST', '/v3/pay/transactions/jsapi', {
      ...body,
      amount: { total: 101, currency: 'CNY' },
    });
    expect(changed.status).toBe(400);
    expect(changed.json.code).toBe('INVALID_REQUEST');
    expect(answerVerifies(changed)).toBe(true);
  });

  const bad: [string, Record<string, unknown>, number, string][] = [
    ['no payer', { payer: undefined }, 400, 'PARAM_ERROR'],
    ['a float amount', { amount: { total: 1.5, currency: 'CNY' } }, 400, 'PARAM_ERROR'],
    ['a zero amount', { amount: { total: 0, currency: 'CNY' } }, 400, 'PARAM_ERROR'],
    ['an amount in USD', { amount: { total: 1, currency: 'USD' } }, 400, 'PARAM_ERROR'],
    ['a bad out_trade_no', { out_trade_no: 'no spaces allowed' }, 400, 'PARAM_ERROR'],
    ['no notify_url', { notify_url: undefined }, 400, 'PARAM_ERROR'],
    ['a bad time_expire', { time_expire: '2026-12-03 12:00:00' }, 400, 'PARAM_ERROR'],
    ['another appid', { appid: 'wx0000000000000000' }, 400, 'APPID_MCHID_NOT_MATCH'],
    ['another mchid in the body', { mchid: '1900000110' }, 400, 'APPID_MCHID_NOT_MATCH'],
  ];
  it.each(bad)('when it has %s, then it is %s %s', async (_what, over, status, code) => {
    const a = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody(over));
    expect([a.status, a.json.code]).toEqual([status, code]);
    expect(a.json.message).toEqual(expect.any(String));
    expect(answerVerifies(a)).toBe(true);
  });

  it('when the body is not JSON, then PARAM_ERROR', async () => {
    const a = await v3('POST', '/v3/pay/transactions/jsapi', undefined, { rawBody: '<xml></xml>' });
    expect([a.status, a.json.code]).toEqual([400, 'PARAM_ERROR']);
  });

  it('when a time_expire is given in RFC 3339, then the order is placed', async () => {
    const a = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody({ time_expire: '2030-01-01T10:00:00+08:00' }));
    expect(a.status).toBe(200);
  });

  it.each([
    ['SYSTEM_ERROR', 500],
    ['FREQUENCY_LIMITED', 429],
  ])('when a %s fault is armed for the payer, then it answers it with %s, signed', async (errCode, status) => {
    const body = jsapiBody();
    await postDev('/dev/pay-fault', { openid: body.payer.openid, fault: { errCode } });
    const a = await v3('POST', '/v3/pay/transactions/jsapi', body);
    expect([a.status, a.json.code]).toEqual([status, errCode]);
    expect(answerVerifies(a)).toBe(true);
    // One-shot: the next try goes through.
    expect((await v3('POST', '/v3/pay/transactions/jsapi', body)).status).toBe(200);
  });

  it('when a gateway fault is armed, then a 502 HTML answer with no signature', async () => {
    const body = jsapiBody();
    await postDev('/dev/pay-fault', { openid: body.payer.openid, fault: { httpStatus: 502 } });
    const a = await v3('POST', '/v3/pay/transactions/jsapi', body);
    expect(a.status).toBe(502);
    expect(a.headers.get('wechatpay-signature')).toBeNull();
  });

  it('when a badSign fault is armed, then the order is made but its answer does not verify', async () => {
    const body = jsapiBody();
    await postDev('/dev/pay-fault', { openid: body.payer.openid, fault: { badSign: true } });
    const a = await v3('POST', '/v3/pay/transactions/jsapi', body);
    expect(a.status).toBe(200);
    expect(a.json.prepay_id).toBeTruthy();
    expect(answerVerifies(a)).toBe(false);
  });
});

describe('answer faults', () => {
  it("when 'sign' is armed, then the next answer's signature fails and the one after verifies", async () => {
    expect((await postDev('/dev/v3/answer-fault', { fault: 'sign' })).status).toBe(200);
    const bad = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody());
    expect(bad.status).toBe(200);
    expect(bad.headers.get('wechatpay-signature')).toBeTruthy();
    expect(answerVerifies(bad)).toBe(false);
    expect(answerVerifies(await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody()))).toBe(true);
  });

  it("when 'signtest' is armed, then the next answer carries a WECHATPAY/SIGNTEST/ probe that never verifies", async () => {
    await postDev('/dev/v3/answer-fault', { fault: 'signtest', count: 2 });
    for (let i = 0; i < 2; i++) {
      const a = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody());
      expect(a.headers.get('wechatpay-signature')).toMatch(/^WECHATPAY\/SIGNTEST\//);
      expect(answerVerifies(a)).toBe(false);
    }
    expect(answerVerifies(await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody()))).toBe(true);
  });

  it('when the fault is not one it knows, then 400', async () => {
    expect((await postDev('/dev/v3/answer-fault', { fault: 'other' })).status).toBe(400);
  });
});

describe('paying: requestPayment with signType RSA and the TRANSACTION.SUCCESS notify', () => {
  it('when the phone pays, then a signed notify whose resource decrypts to the transaction reaches notify_url', async () => {
    const { outTradeNo, slot, transactionId, openid } = await paidOrder(100, {});
    const [n] = await notifiesAt(slot);
    expect(n.headers['content-type']).toMatch(/^application\/json/);
    expect(notifyVerifies(n)).toBe(true);
    const { envelope, resource } = opened(n);
    expect(envelope).toMatchObject({
      id: anyString,
      create_time: matching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/),
      event_type: 'TRANSACTION.SUCCESS',
      resource_type: 'encrypt-resource',
      summary: '支付成功',
      resource: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', original_type: 'transaction' },
    });
    expect(resource).toMatchObject({
      appid: ID.appid,
      mchid: ID.mchId,
      out_trade_no: outTradeNo,
      transaction_id: transactionId,
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      payer: { openid },
      amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    });
    // Under another AAD it does not open: the AAD is part of what is authenticated.
    expect(() => decryptResource({ ...envelope.resource, associated_data: 'refund' }, API_V3_KEY)).toThrow(
      V3DecryptError,
    );
  });

  it('when the paySign is by another key, or the signType is MD5, then the phone refuses and nothing is paid', async () => {
    const placed = await v3('POST', '/v3/pay/transactions/jsapi', jsapiBody());
    const prepayId = placed.json.prepay_id as string;
    const forged = await postDev('/dev/request-payment', payParams(prepayId, otherKey.privateKey));
    expect([forged.status, forged.body.errMsg]).toEqual([400, 'requestPayment:fail invalid paySign']);
    const md5 = await postDev('/dev/request-payment', { ...payParams(prepayId), signType: 'MD5' });
    expect(md5.status).toBe(400);
    expect(md5.body.errMsg).toMatch(/signType/);
  });

  it('when the merchant answers 500 twice, then WeChat retries, each copy freshly signed, until a 2xx', async () => {
    const slot = newSlot();
    failures.set(slot, 2);
    const body = jsapiBody({ notify_url: `${merchantUrl}${slot}` });
    const placed = await v3('POST', '/v3/pay/transactions/jsapi', body);
    await postDev('/dev/request-payment', payParams(placed.json.prepay_id as string));
    const got = await notifiesAt(slot, 3);
    expect(got.every(notifyVerifies)).toBe(true);
    expect(new Set(got.map((n) => n.headers['wechatpay-nonce'])).size).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inbox.get(slot)).toHaveLength(3);
    const order = (await (await fetch(`${simUrl}/dev/orders/${body.out_trade_no}`)).json()) as Record<string, unknown>;
    expect(order).toMatchObject({ tradeState: 'SUCCESS', notifyAttempts: 3 });
  });

  it('when duplicates are asked, then that many copies arrive', async () => {
    const { slot } = await paidOrder(100, { duplicates: 3 });
    expect(await notifiesAt(slot, 3)).toHaveLength(3);
  });

  it("when tamper is 'sign', then the notify decrypts but its signature fails", async () => {
    const { slot } = await paidOrder(100, { tamper: 'sign' });
    const [n] = await notifiesAt(slot);
    expect(notifyVerifies(n)).toBe(false);
    expect(opened(n).resource.trade_state).toBe('SUCCESS');
  });

  it("when tamper is 'signtest', then the notify carries a probe signature that never verifies", async () => {
    const { slot } = await paidOrder(100, { tamper: 'signtest' });
    const [n] = await notifiesAt(slot);
    expect(String(n.headers['wechatpay-signature']).startsWith(SIGNTEST_PREFIX)).toBe(true);
    expect(notifyVerifies(n)).toBe(false);
  });

  it("when tamper is 'amount', then the notify verifies and decrypts, with another amount inside", async () => {
    const { slot } = await paidOrder(100, { tamper: 'amount' });
    const [n] = await notifiesAt(slot);
    expect(notifyVerifies(n)).toBe(true);
    expect(opened(n).resource.amount).toMatchObject({ total: 101 });
  });

  it("when tamper is 'key', then the notify verifies but its resource is sealed under another APIv3 key", async () => {
    const { slot } = await paidOrder(100, { tamper: 'key' });
    const [n] = await notifiesAt(slot);
    expect(notifyVerifies(n)).toBe(true);
    expect(() => opened(n)).toThrow(V3DecryptError);
  });

  it.each(['key', 'signtest'])(
    "when tamper '%s' is asked for a v2 order, then 400 and it stays unpaid",
    async (tamper) => {
      const outTradeNo = newNo('T');
      const fields = {
        appid: ID.appid,
        mch_id: ID.mchId,
        nonce_str: v3Nonce(),
        body: 'v2',
        out_trade_no: outTradeNo,
        total_fee: 1,
        spbill_create_ip: '127.0.0.1',
        notify_url: `${merchantUrl}${newSlot()}`,
        trade_type: 'JSAPI',
        openid: newOpenid(),
      };
      const res = await fetch(`${simUrl}/pay/unifiedorder`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: buildPayXml({ ...fields, sign: paySign(fields, ID.payKey, 'MD5') }),
      });
      const prepayId = parsePayXml(await res.text()).prepay_id;
      const p = {
        appId: ID.appid,
        timeStamp: String(Math.floor(Date.now() / 1000)),
        nonceStr: v3Nonce(),
        package: `prepay_id=${prepayId}`,
        signType: 'MD5',
      };
      const paid = await postDev('/dev/request-payment', { ...p, paySign: paySign(p, ID.payKey, 'MD5'), tamper });
      expect(paid.status).toBe(400);
      const order = (await (await fetch(`${simUrl}/dev/orders/${outTradeNo}`)).json()) as Record<string, unknown>;
      expect(order.tradeState).toBe('NOTPAY');
    },
  );

  it('when a paid order is notified again from /dev/v3/orders/:no/notify, then one more (tampered if asked) copy goes out', async () => {
    const { outTradeNo, slot } = await paidOrder();
    const again = await postDev(`/dev/v3/orders/${outTradeNo}/notify`, { tamper: 'amount' });
    expect(again.body.delivery).toMatchObject({ status: 204 });
    const [n] = await notifiesAt(slot);
    expect(opened(n).resource.amount).toMatchObject({ total: 101 });
    expect((await postDev(`/dev/v3/orders/${newNo('T')}/notify`, {})).status).toBe(404);
    expect((await postDev(`/dev/v3/orders/${outTradeNo}/notify`, { tamper: 'x' })).status).toBe(400);
  });
});

describe('query and close', () => {
  it('when an order is unpaid, then NOTPAY; once paid, SUCCESS with the transaction fields', async () => {
    const body = jsapiBody();
    const placed = await v3('POST', '/v3/pay/transactions/jsapi', body);
    const url = `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${ID.mchId}`;
    const before = await v3('GET', url);
    expect(before.status).toBe(200);
    expect(answerVerifies(before)).toBe(true);
    expect(before.json).toMatchObject({ out_trade_no: body.out_trade_no, trade_state: 'NOTPAY', mchid: ID.mchId });
    expect(before.json.transaction_id).toBeUndefined();
    const paid = await postDev('/dev/request-payment', {
      ...payParams(placed.json.prepay_id as string),
      deliver: false,
    });
    const after = await v3('GET', url);
    expect(after.json).toMatchObject({
      appid: ID.appid,
      mchid: ID.mchId,
      out_trade_no: body.out_trade_no,
      transaction_id: paid.body.transactionId,
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      trade_state_desc: anyString,
      bank_type: anyString,
      success_time: matching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/),
      payer: { openid: body.payer.openid },
      amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    });
    const byId = await v3('GET', `/v3/pay/transactions/id/${paid.body.transactionId as string}?mchid=${ID.mchId}`);
    expect(byId.json.out_trade_no).toBe(body.out_trade_no);
  });

  it('when the order is unknown, then 404 ORDER_NOT_EXIST; with another mchid, 400', async () => {
    const unknown = await v3('GET', `/v3/pay/transactions/out-trade-no/${newNo('T')}?mchid=${ID.mchId}`);
    expect([unknown.status, unknown.json.code]).toEqual([404, 'ORDER_NOT_EXIST']);
    expect(answerVerifies(unknown)).toBe(true);
    const { outTradeNo } = await paidOrder();
    const other = await v3('GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=1900000110`);
    expect([other.status, other.json.code]).toEqual([400, 'PARAM_ERROR']);
  });

  it('when an unpaid order is closed, then 204 signed over an empty body, CLOSED, unpayable, and not placeable again', async () => {
    const body = jsapiBody();
    const placed = await v3('POST', '/v3/pay/transactions/jsapi', body);
    const closed = await v3('POST', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}/close`, {
      mchid: ID.mchId,
    });
    expect(closed.status).toBe(204);
    expect(closed.text).toBe('');
    expect(answerVerifies(closed)).toBe(true);
    const q = await v3('GET', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}?mchid=${ID.mchId}`);
    expect(q.json.trade_state).toBe('CLOSED');
    const pay = await postDev('/dev/request-payment', payParams(placed.json.prepay_id as string));
    expect(pay.body.errMsg).toBe('requestPayment:fail order closed');
    const again = await v3('POST', '/v3/pay/transactions/jsapi', body);
    expect([again.status, again.json.code]).toEqual([400, 'ORDER_CLOSED']);
  });

  it('when a paid or unknown order is closed, then it is refused', async () => {
    const { outTradeNo } = await paidOrder();
    const paid = await v3('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, { mchid: ID.mchId });
    expect([paid.status, paid.json.code]).toEqual([400, 'ORDERPAID']);
    const unknown = await v3('POST', `/v3/pay/transactions/out-trade-no/${newNo('T')}/close`, { mchid: ID.mchId });
    expect([unknown.status, unknown.json.code]).toEqual([404, 'ORDER_NOT_EXIST']);
    const other = await v3('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, { mchid: '1' });
    expect(other.status).toBe(400);
  });
});

describe('refunds', () => {
  const refundBody = (outTradeNo: string, refund: number, over: Record<string, unknown> = {}) => ({
    out_trade_no: outTradeNo,
    out_refund_no: newNo('R'),
    reason: '测试退款',
    notify_url: `${merchantUrl}${newSlot()}`,
    amount: { refund, total: 100, currency: 'CNY' },
    ...over,
  });

  it('when a paid order is refunded, then PROCESSING, then a REFUND.SUCCESS notify and SUCCESS at the query', async () => {
    const { outTradeNo, transactionId } = await paidOrder();
    const body = refundBody(outTradeNo, 60);
    const made = await v3('POST', '/v3/refund/domestic/refunds', body);
    expect(made.status).toBe(200);
    expect(answerVerifies(made)).toBe(true);
    expect(made.json).toMatchObject({
      refund_id: matching(/^\d+$/),
      out_refund_no: body.out_refund_no,
      transaction_id: transactionId,
      out_trade_no: outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: anyString,
      create_time: matching(/\+08:00$/),
      status: 'PROCESSING',
      amount: { refund: 60, total: 100, payer_total: 100, payer_refund: 60, currency: 'CNY' },
    });
    const [n] = await notifiesAt(new URL(body.notify_url).pathname);
    expect(notifyVerifies(n)).toBe(true);
    const { envelope, resource } = opened(n);
    expect(envelope).toMatchObject({
      event_type: 'REFUND.SUCCESS',
      resource: { associated_data: 'refund', original_type: 'refund' },
    });
    expect(resource).toMatchObject({
      mchid: ID.mchId,
      out_trade_no: outTradeNo,
      transaction_id: transactionId,
      out_refund_no: body.out_refund_no,
      refund_id: made.json.refund_id,
      refund_status: 'SUCCESS',
      success_time: matching(/\+08:00$/),
      amount: { total: 100, refund: 60, payer_total: 100, payer_refund: 60 },
    });
    const q = await v3('GET', `/v3/refund/domestic/refunds/${body.out_refund_no}`);
    expect(q.json).toMatchObject({ status: 'SUCCESS', success_time: matching(/\+08:00$/) });
    const order = await v3('GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${ID.mchId}`);
    expect(order.json.trade_state).toBe('REFUND');
  });

  it('when the same out_refund_no comes again, then the same refund; with another amount, INVALID_REQUEST', async () => {
    const { outTradeNo } = await paidOrder();
    const body = refundBody(outTradeNo, 30);
    const first = await v3('POST', '/v3/refund/domestic/refunds', body);
    const again = await v3('POST', '/v3/refund/domestic/refunds', body);
    expect(again.json.refund_id).toBe(first.json.refund_id);
    const changed = await v3('POST', '/v3/refund/domestic/refunds', {
      ...body,
      amount: { refund: 31, total: 100, currency: 'CNY' },
    });
    expect([changed.status, changed.json.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('when refunds would pass the amount paid, then INVALID_REQUEST and nothing more is taken', async () => {
    const { outTradeNo } = await paidOrder();
    expect((await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 70))).status).toBe(200);
    const over = await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 31));
    expect([over.status, over.json.code]).toEqual([400, 'INVALID_REQUEST']);
    expect((await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 30))).status).toBe(200);
    const more = await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 1));
    expect([more.status, more.json.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('when an order has had 50 refunds, then the 51st is INVALID_REQUEST', async () => {
    const { outTradeNo } = await paidOrder();
    for (let i = 0; i < 50; i++) {
      const made = await v3(
        'POST',
        '/v3/refund/domestic/refunds',
        refundBody(outTradeNo, 1, { notify_url: undefined }),
      );
      expect(made.status).toBe(200);
    }
    const last = await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 1, { notify_url: undefined }));
    expect([last.status, last.json.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('when the order is unpaid or unknown, then 404 RESOURCE_NOT_EXISTS', async () => {
    const body = jsapiBody();
    await v3('POST', '/v3/pay/transactions/jsapi', body);
    const unpaid = await v3('POST', '/v3/refund/domestic/refunds', refundBody(body.out_trade_no, 1));
    expect([unpaid.status, unpaid.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    const unknown = await v3('POST', '/v3/refund/domestic/refunds', refundBody(newNo('T'), 1));
    expect([unknown.status, unknown.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
  });

  const badRefunds: [string, (no: string) => Record<string, unknown>, string][] = [
    [
      'a total that is not the order',
      (no) => refundBody(no, 1, { amount: { refund: 1, total: 99, currency: 'CNY' } }),
      'INVALID_REQUEST',
    ],
    [
      'a refund above the total',
      (no) => refundBody(no, 101, { amount: { refund: 101, total: 100, currency: 'CNY' } }),
      'PARAM_ERROR',
    ],
    ['no currency', (no) => refundBody(no, 1, { amount: { refund: 1, total: 100 } }), 'PARAM_ERROR'],
    [
      'a float refund',
      (no) => refundBody(no, 1, { amount: { refund: 0.5, total: 100, currency: 'CNY' } }),
      'PARAM_ERROR',
    ],
    ['no out_refund_no', (no) => refundBody(no, 1, { out_refund_no: undefined }), 'PARAM_ERROR'],
    ['no order at all', () => refundBody('', 1, { out_trade_no: undefined }), 'PARAM_ERROR'],
  ];
  it.each(badRefunds)('when the refund has %s, then %s', async (_what, make, code) => {
    const { outTradeNo } = await paidOrder();
    const a = await v3('POST', '/v3/refund/domestic/refunds', make(outTradeNo));
    expect([a.status, a.json.code]).toEqual([400, code]);
  });

  it.each([
    ['REFUNDCLOSE', 'CLOSED', 'REFUND.CLOSED'],
    ['CHANGE', 'ABNORMAL', 'REFUND.ABNORMAL'],
  ])('when a refund settles as %s, then it is %s with a %s notify', async (outcome, status, event) => {
    const { outTradeNo } = await paidOrder();
    await postDev('/dev/refund-next', { outcome });
    const body = refundBody(outTradeNo, 10);
    await v3('POST', '/v3/refund/domestic/refunds', body);
    const [n] = await notifiesAt(new URL(body.notify_url).pathname);
    const { envelope, resource } = opened(n);
    expect(envelope.event_type).toBe(event);
    expect(resource.refund_status).toBe(status);
    expect((await v3('GET', `/v3/refund/domestic/refunds/${body.out_refund_no}`)).json.status).toBe(status);
  });

  it('when a refund is held, then the query says PROCESSING until it is let go', async () => {
    const { outTradeNo } = await paidOrder();
    await postDev('/dev/refund-hold', { hold: true });
    try {
      const body = refundBody(outTradeNo, 10);
      await v3('POST', '/v3/refund/domestic/refunds', body);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect((await v3('GET', `/v3/refund/domestic/refunds/${body.out_refund_no}`)).json.status).toBe('PROCESSING');
      await postDev('/dev/refund-hold', { hold: false });
      expect((await v3('GET', `/v3/refund/domestic/refunds/${body.out_refund_no}`)).json.status).toBe('SUCCESS');
    } finally {
      await postDev('/dev/refund-hold', { hold: false });
    }
  });

  it('when the merchant answers 500 once to a refund notify, then it comes again', async () => {
    const { outTradeNo } = await paidOrder();
    const body = refundBody(outTradeNo, 10);
    const slot = new URL(body.notify_url).pathname;
    failures.set(slot, 1);
    await v3('POST', '/v3/refund/domestic/refunds', body);
    const got = await notifiesAt(slot, 2);
    expect(got.every(notifyVerifies)).toBe(true);
  });

  it('when a refund fault is armed, then it is answered in v3 form; with accept, the refund is made all the same', async () => {
    const { outTradeNo } = await paidOrder();
    await postDev('/dev/refund-fault', { errCode: 'SYSTEM_ERROR', accept: true });
    const body = refundBody(outTradeNo, 10);
    const a = await v3('POST', '/v3/refund/domestic/refunds', body);
    expect([a.status, a.json.code]).toEqual([500, 'SYSTEM_ERROR']);
    expect(answerVerifies(a)).toBe(true);
    const retry = await v3('POST', '/v3/refund/domestic/refunds', body);
    expect(retry.status).toBe(200);
    await postDev('/dev/refund-fault', { errCode: 'NOT_ENOUGH' });
    const poor = await v3('POST', '/v3/refund/domestic/refunds', refundBody(outTradeNo, 10));
    expect([poor.status, poor.json.code]).toEqual([403, 'NOT_ENOUGH']);
  });

  it('when a settled refund is notified again with a tamper, then that copy is tampered', async () => {
    const { outTradeNo } = await paidOrder();
    const body = refundBody(outTradeNo, 10);
    await v3('POST', '/v3/refund/domestic/refunds', body);
    const slot = new URL(body.notify_url).pathname;
    await notifiesAt(slot);
    for (const tamper of ['amount', 'sign', 'signtest', 'key']) {
      const sent = await postDev(`/dev/v3/refunds/${body.out_refund_no}/notify`, { tamper });
      expect(sent.body.delivery).toMatchObject({ status: 204 });
    }
    const [, amount, sign, signtest, key] = await notifiesAt(slot, 5);
    expect(notifyVerifies(amount)).toBe(true);
    expect(opened(amount).resource.amount).toMatchObject({ refund: 11 });
    expect(notifyVerifies(sign)).toBe(false);
    expect(notifyVerifies(signtest)).toBe(false);
    expect(String(signtest.headers['wechatpay-signature']).startsWith(SIGNTEST_PREFIX)).toBe(true);
    expect(notifyVerifies(key)).toBe(true);
    expect(() => opened(key)).toThrow(V3DecryptError);
    // The plain /dev/refunds/:no/notify sends the v3 form too.
    await postDev(`/dev/refunds/${body.out_refund_no}/notify`, {});
    const copies = await notifiesAt(slot, 6);
    expect(notifyVerifies(copies[5])).toBe(true);
    expect(opened(copies[5]).envelope.event_type).toBe('REFUND.SUCCESS');
  });

  it('when the refund is unknown, then 404 RESOURCE_NOT_EXISTS', async () => {
    const a = await v3('GET', `/v3/refund/domestic/refunds/${newNo('R')}`);
    expect([a.status, a.json.code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    expect(answerVerifies(a)).toBe(true);
  });
});
