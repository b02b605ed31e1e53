import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paySign } from '../../src/wechat/pay-sign';
import { buildPayXml } from '../../src/wechat/pay-xml';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { SIMULATOR_PREFIX } from '../../src/app';
import { adminTokenHash } from '../../src/auth/admin';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { encryptResource, signV3, v3Message, v3Nonce, verifyWechatpaySignature } from '../../src/wechat/v3/crypto';
import { rfc3339China } from '../../src/wechat/v3/client';
import { createPayment, requestPayment } from '../support/pay';
import { simulatorDev } from '../support/simulator-dev';
import { codeOf, markServicesSuite, startServer, type TestServer } from '../support/server';
import { eventually } from '../support/eventually';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

if (onServices) markServicesSuite();

const ADMIN_TOKEN = `ops-${randomBytes(16).toString('hex')}`;
const ORDER = `query($o: String!, $r: Boolean) { order(outTradeNo: $o, refresh: $r) { status transactionId paidAt } }`;

describe('WeChat Pay v3 (WECHAT_PAY_API=v3) against the simulator', () => {
  let t: TestServer;
  let sim: string;

  beforeAll(async () => {
    t = await startServer({ env: { WECHAT_PAY_API: 'v3', ADMIN_TOKEN_HASHES: adminTokenHash(ADMIN_TOKEN) } });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterAll(async () => {
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(SIMULATOR_IDENTITY.apiV3Key);
    expect(logs).not.toContain('PRIVATE KEY');
    await t?.close();
  });

  const dev = <T = Record<string, unknown>>(path: string, body?: unknown) => simulatorDev<T>(sim, path, body);
  const status = async (outTradeNo: string, token: string, refresh = false) =>
    (await t.gql<{ order: { status: string } }>(ORDER, { o: outTradeNo, r: refresh }, token)).data!.order.status;
  const notifyRows = async (outTradeNo: string | null) =>
    (await t.server.orm.em
      .fork()
      .getConnection()
      .execute(
        outTradeNo === null
          ? 'select verdict from payment_notifications where out_trade_no is null order by id'
          : 'select verdict from payment_notifications where out_trade_no = ? order by id',
        outTradeNo === null ? [] : [outTradeNo],
      )) as { verdict: string }[];
  /** The simulator's WeChat Pay public key and its id: what a test needs to forge or check. */
  const platform = () => dev<{ publicKeyPem: string; publicKeyId: string }>('/dev/v3/platform');

  it('when a payment is made, then payParams carry an RSA paySign the simulator accepts and the signed, encrypted notify makes it PAID', async () => {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, 123);
    expect(payParams.signType).toBe('RSA');
    expect(payParams.package).toMatch(/^prepay_id=/);
    const paid = await requestPayment(t, payParams);
    expect(paid.body.errMsg).toBe('requestPayment:ok');
    expect(paid.body.deliveries?.[0]).toMatchObject({ status: 204 });
    expect(await status(order.outTradeNo, user.token)).toBe('PAID');
    expect((await notifyRows(order.outTradeNo)).map((r) => r.verdict)).toEqual(['PAID']);
  });

  it('when the paySign is tampered, then the simulated wx.requestPayment refuses it', async () => {
    const user = await t.login();
    const { payParams } = await createPayment(t, user.token, 5);
    const bad = await requestPayment(t, { ...payParams, paySign: `${payParams.paySign.slice(0, -4)}AAA=` });
    expect(bad.status).toBe(400);
  });

  it('when the notify is forged, a SIGNTEST probe, under the wrong key or for another amount, then it is refused and the order stays PENDING', async () => {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, 50);
    expect((await requestPayment(t, payParams, { deliver: false })).body.errMsg).toBe('requestPayment:ok');
    for (const tamper of ['sign', 'signtest', 'key', 'amount']) {
      const res = await dev<{ delivery: { status: number } }>(`/dev/v3/orders/${order.outTradeNo}/notify`, { tamper });
      expect([tamper, res.delivery.status >= 400]).toEqual([tamper, true]);
    }
    expect(await status(order.outTradeNo, user.token)).toBe('PENDING');
    const verdicts = [...(await notifyRows(null)), ...(await notifyRows(order.outTradeNo))].map((r) => r.verdict);
    expect(verdicts).toEqual(expect.arrayContaining(['BAD_SIGN', 'SIGNTEST', 'UNDECRYPTABLE', 'AMOUNT_MISMATCH']));
    // The genuine one, once more, settles it.
    await dev(`/dev/v3/orders/${order.outTradeNo}/notify`, {});
    expect(await status(order.outTradeNo, user.token)).toBe('PAID');
  });

  it('when a notify has a stale timestamp or an unknown serial, then 401 before anything is decrypted', async () => {
    const { publicKeyId } = await platform();
    const body = JSON.stringify({ id: 'x', event_type: 'TRANSACTION.SUCCESS', resource: {} });
    const post = (headers: Record<string, string>) =>
      fetch(`${t.url}/notify/v3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const stale = await post({
      'wechatpay-timestamp': String(Math.floor(Date.now() / 1000) - 3600),
      'wechatpay-nonce': v3Nonce(),
      'wechatpay-signature': 'AAAA',
      'wechatpay-serial': publicKeyId,
    });
    expect([stale.status, ((await stale.json()) as { code: string }).code]).toEqual([401, 'FAIL']);
    // Signed correctly, but by a key WeChat Pay does not hold.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = v3Nonce();
    const unknown = await post({
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signV3(v3Message(timestamp, nonce, body), other.privateKey),
      'wechatpay-serial': 'PUB_KEY_ID_0000000000000000000000000000000000',
    });
    expect(unknown.status).toBe(401);
    expect((await notifyRows(null)).map((r) => r.verdict)).toEqual(expect.arrayContaining(['STALE', 'UNKNOWN_SERIAL']));
  });

  it('when 20 copies of one genuine notify arrive at once, then the order becomes PAID once', async () => {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, 77);
    const paid = await requestPayment(t, payParams, { duplicates: 20 });
    expect(paid.body.deliveries).toHaveLength(20);
    expect(new Set(paid.body.deliveries!.map((d) => d.status))).toEqual(new Set([204]));
    expect(await status(order.outTradeNo, user.token)).toBe('PAID');
    const verdicts = (await notifyRows(order.outTradeNo)).map((r) => r.verdict);
    expect(verdicts.filter((v) => v === 'PAID')).toHaveLength(1);
    expect(verdicts.filter((v) => v === 'DUPLICATE')).toHaveLength(19);
  });

  it('when the notify is lost, then order(refresh: true) settles it with the v3 query', async () => {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, 88);
    await requestPayment(t, payParams, { deliver: false });
    expect(await status(order.outTradeNo, user.token)).toBe('PENDING');
    expect(await status(order.outTradeNo, user.token, true)).toBe('PAID');
  });

  it("when WeChat's answer does not verify, then WECHAT_UNAVAILABLE, its content ignored, and the order CLOSED", async () => {
    const user = await t.login();
    for (const fault of ['sign', 'signtest']) {
      await dev('/dev/v3/answer-fault', { fault, count: 1 });
      const res = await t.gql(
        'mutation { createPayment(money: 9) { order { outTradeNo } payParams { paySign } } }',
        {},
        user.token,
      );
      expect([fault, codeOf(res)]).toEqual([fault, 'WECHAT_UNAVAILABLE']);
      expect(res.errors![0].extensions).toMatchObject({ api: 'jsapi' });
    }
    const orders = await t.gql<{ orders: { status: string; amount: number }[] }>(
      'query { orders { status amount } }',
      {},
      user.token,
    );
    expect(orders.data!.orders.filter((o) => o.amount === 9).map((o) => o.status)).toEqual(['CLOSED', 'CLOSED']);
  });

  it('when an operator refunds a v3 order, then the v3 refund is made and its REFUND.SUCCESS notify settles it', async () => {
    const user = await t.login();
    const { order, payParams } = await createPayment(t, user.token, 300);
    await requestPayment(t, payParams);
    const res = await t.gql<{ refund: { status: string; refundId: string } }>(
      'mutation($o: String!) { refund(outTradeNo: $o, amount: 120, reason: "v3") { status refundId } }',
      { o: order.outTradeNo },
      ADMIN_TOKEN,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.refund.status).toBe('PROCESSING');
    const refunded = async () =>
      (
        await t.gql<{ adminOrder: { refundedAmount: number } }>(
          'query($o: String!) { adminOrder(outTradeNo: $o) { refundedAmount } }',
          { o: order.outTradeNo },
          ADMIN_TOKEN,
        )
      ).data!.adminOrder.refundedAmount;
    expect(await eventually(async () => (await refunded()) === 120, 5000)).toBe(true);
  });

  it("when our request's Authorization would be verified by WeChat, then it verifies under the merchant's key (the simulator checked it)", async () => {
    // Every call above went through the simulator's Authorization check (a bad one answers 401 SIGN_ERROR); here a
    // request signed with another key is refused, so the check is real.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const body = JSON.stringify({ mchid: SIMULATOR_IDENTITY.mchId });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = v3Nonce();
    const url = '/v3/pay/transactions/out-trade-no/none/close';
    const signature = signV3(v3Message('POST', url, timestamp, nonce, body), other.privateKey);
    const res = await fetch(`${sim}${url}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `WECHATPAY2-SHA256-RSA2048 mchid="${SIMULATOR_IDENTITY.mchId}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${SIMULATOR_IDENTITY.mchSerial}"`,
      },
      body,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('SIGN_ERROR');
    // And the simulator's answers, errors included, are signed: this one verifies with its public key.
    const { publicKeyPem } = await platform();
    const answer = await fetch(`${sim}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'nope' },
      body,
    });
    const text = await answer.text();
    expect(text).toContain('SIGN_ERROR');
    const signed = {
      timestamp: answer.headers.get('wechatpay-timestamp') ?? '',
      nonce: answer.headers.get('wechatpay-nonce') ?? '',
      signature: answer.headers.get('wechatpay-signature') ?? '',
    };
    expect(verifyWechatpaySignature(signed, text, publicKeyPem)).toBe(true);
    expect(verifyWechatpaySignature(signed, `${text} `, publicKeyPem)).toBe(false);
  });
});

describe('v3 on two instances, and the sweeper', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('when the v3 notify is lost for good, then the sweeper alone settles the order PAID', async () => {
    const t = await startServer({
      database,
      env: { WECHAT_PAY_API: 'v3', SWEEP_INTERVAL_SECONDS: '1', RECONCILE_AFTER_SECONDS: '1' },
    });
    try {
      const user = await t.login();
      const { order, payParams } = await createPayment(t, user.token, 66);
      await requestPayment(t, payParams, { deliver: false });
      const status = async () =>
        (await t.gql<{ order: { status: string } }>(ORDER, { o: order.outTradeNo, r: false }, user.token)).data!.order
          .status;
      expect(await eventually(async () => (await status()) === 'PAID', 15_000)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('when a forged resource is sealed with the right APIv3 key but signed by no one we know, then it is refused', async () => {
    const t = await startServer({ database, env: { WECHAT_PAY_API: 'v3' } });
    try {
      const resource = encryptResource(
        JSON.stringify({ mchid: SIMULATOR_IDENTITY.mchId, appid: SIMULATOR_IDENTITY.appid, trade_state: 'SUCCESS' }),
        SIMULATOR_IDENTITY.apiV3Key,
        'transaction',
        'transaction',
      );
      const body = JSON.stringify({ id: 'forged', event_type: 'TRANSACTION.SUCCESS', resource });
      const res = await fetch(`${t.url}/notify/v3`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)),
          'wechatpay-nonce': v3Nonce(),
          'wechatpay-signature': 'bm90IGEgc2lnbmF0dXJl',
          'wechatpay-serial': 'PUB_KEY_ID_nope',
        },
        body,
      });
      expect(res.status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('when time_expire is sent, then it is RFC 3339 in China time', () => {
    expect(rfc3339China('20261204003005')).toBe('2026-12-04T00:30:05+08:00');
    expect(() => rfc3339China('2026-12-04')).toThrow();
  });
});

describe('v3 with a real merchant: no v2 key, no v2 notify', () => {
  it('when a v2 notify is posted to a v3 server, then it is refused (503) and the order stays PENDING, even signed with an empty key', async () => {
    const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const platformKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'v3-real-'));
    writeFileSync(join(dir, 'apiclient_key.pem'), merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'pub_key.pem'), platformKey.publicKey.export({ type: 'spki', format: 'pem' }));
    const sim = await startStandaloneSimulator();
    const { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE, WECHAT_MCH_ID } = sim.env();
    const t = await startServer({
      env: {
        WECHAT_APPID,
        WECHAT_SECRET,
        WECHAT_API_BASE,
        WECHAT_MCH_ID,
        WECHAT_NOTIFY_URL: 'https://example.com/notify/v3',
        WECHAT_PAY_API: 'v3',
        WECHAT_PAY_MCH_SERIAL: SIMULATOR_IDENTITY.mchSerial,
        WECHAT_PAY_MCH_PRIVATE_KEY_PEM: join(dir, 'apiclient_key.pem'),
        WECHAT_PAY_API_V3_KEY: SIMULATOR_IDENTITY.apiV3Key,
        WECHAT_PAY_PUBLIC_KEY_PEM: join(dir, 'pub_key.pem'),
        WECHAT_PAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0114232134912410000000000000000000',
      },
    });
    try {
      const fields: Record<string, string> = {
        return_code: 'SUCCESS',
        result_code: 'SUCCESS',
        appid: WECHAT_APPID,
        mch_id: WECHAT_MCH_ID,
        nonce_str: 'forged',
        out_trade_no: 'anyorder',
        transaction_id: '4200000000000000000000000009',
        total_fee: '1',
        time_end: '20261203120000',
      };
      fields.sign = paySign(fields, '', 'MD5');
      const res = await fetch(`${t.url}/notify`, { method: 'POST', body: buildPayXml(fields) });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('FAIL');
    } finally {
      await t.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
