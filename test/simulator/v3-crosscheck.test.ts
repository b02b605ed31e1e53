import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import type { V3Platform } from '../../src/simulator/v3-platform';
import { markServicesSuite } from '../support/server';
import { listenV3Simulator, SIM_ID, sendV3, startMerchant } from '../support/simulator-app';
import { onServices } from '../support/target';

beforeAll(() => {
  if (onServices) markServicesSuite();
});

/**
 * The v3 simulator against a third implementation, wechatpay-axios-plugin (a devDependency only): requests signed
 * with its Formatter and Rsa are accepted, its Rsa.verify accepts the simulator's answers and notifies under the
 * announced platform key, its AesGcm opens the notify resources, and a paySign it makes pays. Our crypto plays no
 * part on the test's side, so the simulator agrees with someone other than itself.
 */
const ID = SIM_ID;
const MCH_SERIAL = '3775B6A45ACD588826D15E583A95F5DD2A6A0000';
const API_V3_KEY = 'crosscheckapiv3key00000000000000';
const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) =>
  key.export(key.type === 'private' ? { type: 'pkcs8', format: 'pem' } : { type: 'spki', format: 'pem' }) as string;

let sim: FastifyInstance;
let simUrl: string;
let platform: V3Platform;
let merchantServer: Awaited<ReturnType<typeof startMerchant>>;
let merchantUrl: string;
const inbox: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  ({
    app: sim,
    url: simUrl,
    platform,
  } = await listenV3Simulator(
    { mchPublicKey: pem(merchant.publicKey), mchSerial: MCH_SERIAL, apiV3Key: API_V3_KEY },
    { refundSettleMs: 10 },
  ));
  merchantServer = await startMerchant(({ headers, body }) => {
    inbox.push({ headers, body });
    return { status: 204 };
  });
  merchantUrl = `${merchantServer.url}/notify/v3`;
});

afterAll(async () => {
  await sim.close();
  await merchantServer.close();
});

/** A request signed the plugin's way: Formatter.request, Rsa.sign, Formatter.authorization. */
async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const timestamp = String(Formatter.timestamp());
  const nonce = Formatter.nonce();
  const signature = Rsa.sign(Formatter.request(method, url, timestamp, nonce, text), pem(merchant.privateKey));
  return sendV3(simUrl, method, url, text, Formatter.authorization(ID.mchId, nonce, signature, timestamp, MCH_SERIAL));
}

/** The plugin's verifier over the answer: Formatter.response and Rsa.verify with the announced public key. */
const theyVerify = (timestamp: string, nonce: string, signature: string, body: string) =>
  Rsa.verify(Formatter.response(timestamp, nonce, body), signature, platform.publicKeyPem);

async function waitForNotifies(count: number) {
  const until = Date.now() + 3000;
  while (inbox.length < count) {
    if (Date.now() > until) throw new Error('timed out waiting for notifies');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function openWithPlugin(n: { body: string }) {
  const { event_type, resource } = JSON.parse(n.body) as {
    event_type: string;
    resource: { ciphertext: string; nonce: string; associated_data: string };
  };
  const plain = Aes.AesGcm.decrypt(resource.ciphertext, API_V3_KEY, resource.nonce, resource.associated_data);
  return { event_type, resource: JSON.parse(plain) as Record<string, unknown> };
}

it('when the plugin signs the requests, then jsapi, payment with its paySign, query, refund and their notifies all agree with it', async () => {
  const outTradeNo = 'X' + randomBytes(8).toString('hex');
  const placed = await call('POST', '/v3/pay/transactions/jsapi', {
    appid: ID.appid,
    mchid: ID.mchId,
    description: '交叉校验',
    out_trade_no: outTradeNo,
    notify_url: merchantUrl,
    amount: { total: 88, currency: 'CNY' },
    payer: { openid: 'oCrossCheck000000000000000000' },
  });
  expect(placed.status).toBe(200);
  const h = (name: string) => placed.headers.get(name) ?? '';
  expect(h('wechatpay-serial')).toBe(platform.publicKeyId);
  expect(theyVerify(h('wechatpay-timestamp'), h('wechatpay-nonce'), h('wechatpay-signature'), placed.text)).toBe(true);
  expect(theyVerify(h('wechatpay-timestamp'), h('wechatpay-nonce'), h('wechatpay-signature'), `${placed.text} `)).toBe(
    false,
  );

  // wx.requestPayment's paySign as the plugin builds a v3 message: appId\ntimeStamp\nnonceStr\npackage\n.
  const params = {
    appId: ID.appid,
    timeStamp: String(Formatter.timestamp()),
    nonceStr: Formatter.nonce(),
    package: `prepay_id=${placed.json.prepay_id as string}`,
  };
  const paySign = Rsa.sign(
    Formatter.joinedByLineFeed(params.appId, params.timeStamp, params.nonceStr, params.package),
    pem(merchant.privateKey),
  );
  const paid = await fetch(`${simUrl}/dev/request-payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...params, signType: 'RSA', paySign }),
  });
  expect(((await paid.json()) as { errMsg: string }).errMsg).toBe('requestPayment:ok');

  await waitForNotifies(1);
  const [payNotify] = inbox;
  const nh = (name: string) => String(payNotify.headers[name]);
  expect(theyVerify(nh('wechatpay-timestamp'), nh('wechatpay-nonce'), nh('wechatpay-signature'), payNotify.body)).toBe(
    true,
  );
  const pay = openWithPlugin(payNotify);
  expect(pay.event_type).toBe('TRANSACTION.SUCCESS');
  expect(pay.resource).toMatchObject({ out_trade_no: outTradeNo, trade_state: 'SUCCESS', amount: { total: 88 } });

  const queried = await call('GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${ID.mchId}`);
  expect(queried.json.trade_state).toBe('SUCCESS');

  const refunded = await call('POST', '/v3/refund/domestic/refunds', {
    out_trade_no: outTradeNo,
    out_refund_no: 'R' + randomBytes(8).toString('hex'),
    notify_url: merchantUrl,
    amount: { refund: 8, total: 88, currency: 'CNY' },
  });
  expect(refunded.json.status).toBe('PROCESSING');
  await waitForNotifies(2);
  const refundNotify = inbox[1];
  const rh = (name: string) => String(refundNotify.headers[name]);
  expect(
    theyVerify(rh('wechatpay-timestamp'), rh('wechatpay-nonce'), rh('wechatpay-signature'), refundNotify.body),
  ).toBe(true);
  const refund = openWithPlugin(refundNotify);
  expect(refund.event_type).toBe('REFUND.SUCCESS');
  expect(refund.resource).toMatchObject({ out_trade_no: outTradeNo, refund_status: 'SUCCESS', amount: { refund: 8 } });
});

it('when the plugin signs with a key the simulator does not hold, then 401 SIGN_ERROR', async () => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const timestamp = String(Formatter.timestamp());
  const nonce = Formatter.nonce();
  const url = `/v3/pay/transactions/out-trade-no/none?mchid=${ID.mchId}`;
  const signature = Rsa.sign(Formatter.request('GET', url, timestamp, nonce, ''), pem(other.privateKey));
  const res = await fetch(`${simUrl}${url}`, {
    headers: { authorization: Formatter.authorization(ID.mchId, nonce, signature, timestamp, MCH_SERIAL) },
  });
  expect(res.status).toBe(401);
  expect(((await res.json()) as { code: string }).code).toBe('SIGN_ERROR');
});
