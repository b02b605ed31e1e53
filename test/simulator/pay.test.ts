import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { request as httpRequest } from 'node:http';
import type { SimulatorXmlLayout } from '../../src/simulator/xml-layout';
import { paySign, type SignType, verifyPaySign } from '../../src/wechat/pay-sign';
import {
  buildPayXml,
  NOTIFY_SUCCESS,
  notifyFail,
  PAY_XML_LAYOUTS,
  parsePayXml,
  type PayXmlLayout,
} from '../../src/wechat/pay-xml';
import { createPayClient } from '../../src/wechat/pay.client';
import { markServicesSuite } from '../support/server';
import { listen, listenSimulator, SIM_ID } from '../support/simulator-app';
import { onServices } from '../support/target';

// The simulator keeps its state in memory: it runs alike on both projects,
// and is marked as run on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

/**
 * The simulated WeChat Pay over real HTTP, plus a tiny merchant that receives its notifies. Each test notifies
 * its own /notify/:slot, so the merchant can answer FAIL a set number of times per test.
 */
const ID = SIM_ID;

interface Received {
  fields: Record<string, string>;
  contentType: string | undefined;
  /** The notify exactly as it came, to see its layout. */
  text: string;
}

let sim: FastifyInstance;
let simUrl: string;
let merchant: FastifyInstance;
let merchantUrl: string;
const inbox = new Map<string, Received[]>();
/** How many times a slot answers badly before it answers SUCCESS, and how. */
const failures = new Map<string, { left: number; how: 'fail' | 'http500' | 'garbage' }>();
/** Waiters for a request to reach its handler (body read, hooks run), keyed by the request's URL. */
const handlerWaiters = new Map<string, () => void>();
const handlerReached = (url: string) => new Promise<void>((resolve) => handlerWaiters.set(url, resolve));

/**
 * `before` runs on the new app before the simulator is registered (e.g. to add a hook its routes get). The layout
 * varies per message unless a test asks for one, as it does in every suite (test/support/server.ts).
 */
const startSimulator = (
  before?: (app: FastifyInstance) => void,
  options: { xmlLayout?: SimulatorXmlLayout } = { xmlLayout: 'vary' },
) => listenSimulator(options, before);

beforeAll(async () => {
  ({ app: sim, url: simUrl } = await startSimulator((app) =>
    // Callback style, so the handler runs in the same tick as the waiter is told.
    app.addHook('preHandler', (req, _reply, done) => {
      handlerWaiters.get(req.url)?.();
      handlerWaiters.delete(req.url);
      done();
    }),
  ));
  merchant = Fastify();
  merchant.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  merchant.post<{ Params: { slot: string }; Body: string }>('/notify/:slot', async (req, reply) => {
    const list = inbox.get(req.params.slot) ?? [];
    list.push({ fields: parsePayXml(req.body), contentType: req.headers['content-type'], text: req.body });
    inbox.set(req.params.slot, list);
    const failing = failures.get(req.params.slot);
    if (failing && failing.left > 0) {
      failing.left--;
      if (failing.how === 'http500') return reply.code(500).send('oops');
      if (failing.how === 'garbage') return reply.type('text/plain').send('success');
      return reply.type('text/xml').send(notifyFail('busy'));
    }
    return reply.type('text/xml').send(NOTIFY_SUCCESS);
  });
  merchantUrl = await listen(merchant);
});

afterAll(async () => {
  await sim.close();
  await merchant.close();
});

// --- helpers ----------------------------------------------------------------------------------------

const nonce = () => randomBytes(8).toString('hex');
const newSlot = () => randomBytes(6).toString('hex');
const newOutTradeNo = () => 'T' + Date.now() + randomBytes(4).toString('hex');
const newOpenid = () => 'o' + randomBytes(14).toString('hex').slice(0, 27);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postXml(path: string, xml: string, base = simUrl) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: xml });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text };
}

/** Signs the request like a merchant would, and parses the answer. */
async function callPay(path: string, fields: Record<string, string>, signType: SignType = 'MD5', base = simUrl) {
  const all = { ...fields, ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}), nonce_str: nonce() };
  const res = await postXml(path, buildPayXml({ ...all, sign: paySign(all, ID.payKey, signType) }), base);
  return { ...res, answer: parsePayXml(res.text) };
}

function orderFields(overrides: Record<string, string> = {}) {
  return {
    appid: ID.appid,
    mch_id: ID.mchId,
    body: '测试商品 <&> 🍵',
    out_trade_no: newOutTradeNo(),
    total_fee: '1',
    spbill_create_ip: '127.0.0.1',
    notify_url: `${merchantUrl}/notify/${newSlot()}`,
    trade_type: 'JSAPI',
    openid: newOpenid(),
    ...overrides,
  };
}

async function unifiedOrder(signType: SignType = 'MD5', overrides: Record<string, string> = {}) {
  const fields = orderFields(overrides);
  const res = await callPay('/pay/unifiedorder', fields, signType);
  return { ...res, fields, slot: fields.notify_url.split('/').pop()! };
}

/** An order placed and ready to pay, with the slot its notifies land in. */
async function placedOrder(signType: SignType = 'MD5', overrides: Record<string, string> = {}) {
  const res = await unifiedOrder(signType, overrides);
  expect(res.answer.result_code).toBe('SUCCESS');
  return { prepayId: res.answer.prepay_id, outTradeNo: res.fields.out_trade_no, slot: res.slot, fields: res.fields };
}

/** What the mini-program passes to wx.requestPayment, signed with the second (camelCase) signature. */
function paymentParams(prepayId: string, signType: SignType = 'MD5') {
  const params = {
    appId: ID.appid,
    timeStamp: String(Math.floor(Date.now() / 1000)),
    nonceStr: nonce(),
    package: `prepay_id=${prepayId}`,
    signType,
  };
  return { ...params, paySign: paySign(params, ID.payKey, signType) };
}

async function postJson(path: string, body: unknown, base = simUrl) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const requestPayment = (prepayId: string, extra: Record<string, unknown> = {}, signType: SignType = 'MD5') =>
  postJson('/dev/request-payment', { ...paymentParams(prepayId, signType), ...extra });

async function simOrder(outTradeNo: string) {
  const res = await fetch(`${simUrl}/dev/orders/${outTradeNo}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const received = (slot: string) => inbox.get(slot) ?? [];

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(10);
  }
}

// --- unifiedorder -----------------------------------------------------------------------------------

describe('POST /pay/unifiedorder', () => {
  it.each<SignType>(['MD5', 'HMAC-SHA256'])(
    'when a %s-signed order is valid, then a signed XML answer carries a prepay_id',
    async (signType) => {
      const res = await unifiedOrder(signType);
      expect(res.status).toBe(200);
      expect(res.contentType).toMatch(/^text\/xml/);
      expect(res.answer).toMatchObject({
        return_code: 'SUCCESS',
        return_msg: 'OK',
        appid: ID.appid,
        mch_id: ID.mchId,
        result_code: 'SUCCESS',
        trade_type: 'JSAPI',
      });
      expect(res.answer.prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
      expect(res.answer.nonce_str).toBeTruthy();
      expect(verifyPaySign(res.answer, ID.payKey, signType)).toBe(true);
      expect(verifyPaySign(res.answer, ID.payKey, signType === 'MD5' ? 'HMAC-SHA256' : 'MD5')).toBe(false);
    },
  );

  it('when the same out_trade_no comes again unchanged, then the same prepay_id; when changed, then INVALID_REQUEST', async () => {
    const first = await unifiedOrder();
    const again = await callPay('/pay/unifiedorder', first.fields);
    expect(again.answer.prepay_id).toBe(first.answer.prepay_id);
    const changed = await callPay('/pay/unifiedorder', { ...first.fields, total_fee: '2' });
    expect(changed.answer).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'INVALID_REQUEST',
      err_code_des: '商户订单号重复',
    });
    expect(verifyPaySign(changed.answer, ID.payKey)).toBe(true);
  });

  it('when the sign is wrong, then SIGNERROR', async () => {
    const fields = { ...orderFields(), nonce_str: nonce() };
    const res = await postXml(
      '/pay/unifiedorder',
      buildPayXml({ ...fields, sign: paySign(fields, 'not-the-key', 'MD5') }),
    );
    expect(parsePayXml(res.text)).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'SIGNERROR',
      err_code_des: '签名错误',
    });
  });

  it('when the body is not XML, then return_code FAIL XML格式错误', async () => {
    for (const body of ['{"a":1}', '<xml><a>1</xml>', '<!DOCTYPE x [<!ENTITY e "x">]><xml><a>&e;</a></xml>']) {
      const res = await postXml('/pay/unifiedorder', body);
      expect(parsePayXml(res.text)).toEqual({ return_code: 'FAIL', return_msg: 'XML格式错误' });
    }
  });

  it.each([
    ['appid', { appid: 'wx0000000000000000' }, 'APPID_NOT_EXIST'],
    ['mch_id', { mch_id: '1234567890' }, 'MCHID_NOT_EXIST'],
    ['trade_type', { trade_type: 'NATIVE' }, 'PARAM_ERROR'],
    ['openid', { openid: '' }, 'PARAM_ERROR'],
    ['body', { body: '' }, 'PARAM_ERROR'],
    ['yuan total_fee', { total_fee: '0.01' }, 'PARAM_ERROR'],
    ['zero total_fee', { total_fee: '0' }, 'PARAM_ERROR'],
    ['out_trade_no with a space', { out_trade_no: 'order 1' }, 'PARAM_ERROR'],
    ['33-character out_trade_no', { out_trade_no: 'A'.repeat(33) }, 'PARAM_ERROR'],
    ['notify_url', { notify_url: 'notify' }, 'PARAM_ERROR'],
  ])('when %s is wrong, then %s', async (_what, overrides, errCode) => {
    const res = await unifiedOrder('MD5', overrides);
    expect(res.answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode });
    expect(verifyPaySign(res.answer, ID.payKey)).toBe(true);
  });
});

describe('POST /dev/pay-fault', () => {
  const arm = (openid: string, fault: object) => postJson('/dev/pay-fault', { openid, fault });

  it('when an errCode fault is armed, then that openid gets it once, then a normal answer', async () => {
    const openid = newOpenid();
    expect((await arm(openid, { errCode: 'NOTENOUGH' })).body).toEqual({ ok: true });
    const faulted = await unifiedOrder('MD5', { openid });
    expect(faulted.answer).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'FAIL',
      err_code: 'NOTENOUGH',
      err_code_des: '余额不足',
    });
    expect(verifyPaySign(faulted.answer, ID.payKey)).toBe(true);
    expect((await unifiedOrder('MD5', { openid })).answer.result_code).toBe('SUCCESS');
  });

  it('when returnFail, garbage, httpStatus or badSign is armed, then WeChat misbehaves that way', async () => {
    const openid = newOpenid();
    await arm(openid, { returnFail: true });
    expect((await unifiedOrder('MD5', { openid })).answer).toEqual({
      return_code: 'FAIL',
      return_msg: '参数格式校验错误',
    });

    await arm(openid, { garbage: true });
    const garbage = await postXml('/pay/unifiedorder', buildPayXml(signed(orderFields({ openid }))));
    expect(() => parsePayXml(garbage.text)).toThrow();

    await arm(openid, { httpStatus: 502 });
    expect((await postXml('/pay/unifiedorder', buildPayXml(signed(orderFields({ openid }))))).status).toBe(502);

    await arm(openid, { badSign: true });
    const bad = await unifiedOrder('HMAC-SHA256', { openid });
    expect(bad.answer.result_code).toBe('SUCCESS');
    expect(bad.answer.prepay_id).toBeTruthy();
    expect(verifyPaySign(bad.answer, ID.payKey, 'HMAC-SHA256')).toBe(false);
  });

  it('when a delay is armed, then the answer is late; when the caller gives up, then the order exists all the same', async () => {
    const openid = newOpenid();
    await arm(openid, { delayMs: 150 });
    const started = Date.now();
    expect((await unifiedOrder('MD5', { openid })).answer.result_code).toBe('SUCCESS');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    await arm(openid, { delayMs: 60_000 });
    const fields = signed(orderFields({ openid }));
    // The caller gives up once the simulator is handling its request, not after a fixed time: a loaded machine
    // could spend that time before the request was even read, and then there would be no order.
    const giveUp = new AbortController();
    const handling = handlerReached('/pay/unifiedorder');
    const call = fetch(`${simUrl}/pay/unifiedorder`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: buildPayXml(fields),
      signal: giveUp.signal,
    });
    await handling;
    await new Promise((r) => setImmediate(r));
    giveUp.abort();
    await expect(call).rejects.toThrow();
    await waitFor(async () => (await simOrder(fields.out_trade_no)).status === 200);
    expect((await simOrder(fields.out_trade_no)).body).toMatchObject({
      outTradeNo: fields.out_trade_no,
      tradeState: 'NOTPAY',
    });
  });

  it('when the fault is not an object, then 400', async () => {
    expect((await postJson('/dev/pay-fault', { openid: 'o1', fault: 'slow' })).status).toBe(400);
  });
});

function signed(fields: Record<string, string>, signType: SignType = 'MD5'): Record<string, string> {
  const all = { ...fields, nonce_str: nonce() };
  return { ...all, sign: paySign(all, ID.payKey, signType) };
}

// --- orderquery and closeorder ----------------------------------------------------------------------

describe('POST /pay/orderquery', () => {
  it('when an order is paid through request-payment, then its trade_state goes NOTPAY → SUCCESS with the payment fields', async () => {
    const order = await placedOrder('HMAC-SHA256', { total_fee: '2590' });
    const before = await callPay(
      '/pay/orderquery',
      { appid: ID.appid, mch_id: ID.mchId, out_trade_no: order.outTradeNo },
      'HMAC-SHA256',
    );
    expect(before.answer).toMatchObject({
      result_code: 'SUCCESS',
      trade_state: 'NOTPAY',
      out_trade_no: order.outTradeNo,
      total_fee: '2590',
      openid: order.fields.openid,
    });
    expect(before.answer.transaction_id).toBeUndefined();
    expect(verifyPaySign(before.answer, ID.payKey, 'HMAC-SHA256')).toBe(true);

    const paid = await requestPayment(order.prepayId, {}, 'HMAC-SHA256');
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ errMsg: 'requestPayment:ok', outTradeNo: order.outTradeNo });
    const transactionId = paid.body.transactionId as string;
    expect(transactionId).toMatch(/^4200\d{24}$/);

    const after = await callPay('/pay/orderquery', {
      appid: ID.appid,
      mch_id: ID.mchId,
      transaction_id: transactionId,
    });
    expect(after.answer).toMatchObject({
      result_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      out_trade_no: order.outTradeNo,
      transaction_id: transactionId,
      total_fee: '2590',
      cash_fee: '2590',
      fee_type: 'CNY',
      bank_type: 'CMC',
      trade_type: 'JSAPI',
    });
    expect(after.answer.time_end).toMatch(/^20\d{12}$/);
    expect(verifyPaySign(after.answer, ID.payKey)).toBe(true);
  });

  it('when the order is unknown, then ORDERNOTEXIST', async () => {
    const res = await callPay('/pay/orderquery', { appid: ID.appid, mch_id: ID.mchId, out_trade_no: 'nope' });
    expect(res.answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
  });
});

describe('POST /pay/closeorder', () => {
  const close = (outTradeNo: string) =>
    callPay('/pay/closeorder', { appid: ID.appid, mch_id: ID.mchId, out_trade_no: outTradeNo });

  it('when an unpaid order is closed, then it is CLOSED and can no longer be paid', async () => {
    const order = await placedOrder();
    const res = await close(order.outTradeNo);
    expect(res.answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
    expect(verifyPaySign(res.answer, ID.payKey)).toBe(true);
    const query = await callPay('/pay/orderquery', {
      appid: ID.appid,
      mch_id: ID.mchId,
      out_trade_no: order.outTradeNo,
    });
    expect(query.answer.trade_state).toBe('CLOSED');
    const pay = await requestPayment(order.prepayId);
    expect(pay).toEqual({ status: 400, body: { errMsg: 'requestPayment:fail order closed' } });
  });

  it('when the order is paid, then ORDERPAID', async () => {
    const order = await placedOrder();
    await requestPayment(order.prepayId);
    expect((await close(order.outTradeNo)).answer).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERPAID' });
  });
});

// --- request-payment and notifies -------------------------------------------------------------------

describe('POST /dev/request-payment', () => {
  it('when the pay sign is wrong, then 400 and nothing is paid', async () => {
    const order = await placedOrder();
    const params = paymentParams(order.prepayId);
    const cases: Record<string, unknown>[] = [
      { ...params, paySign: paySign(params, 'wrong-key', 'MD5') },
      // The classic bug: reusing unifiedorder's sign instead of signing the five camelCase fields.
      { ...params, paySign: paySign({ ...order.fields }, ID.payKey, 'MD5') },
      {
        ...params,
        signType: 'HMAC-SHA256',
        paySign: paySign({ ...params, signType: 'HMAC-SHA256' }, ID.payKey, 'HMAC-SHA256'),
      },
      { ...params, timeStamp: Number(params.timeStamp) },
      { ...params, appId: 'wx0000000000000000' },
      { ...params, package: order.prepayId },
      { ...params, package: 'prepay_id=wx-unknown' },
    ];
    for (const body of cases) {
      const res = await postJson('/dev/request-payment', body);
      expect(res.status).toBe(400);
      expect(res.body.errMsg).toMatch(/^requestPayment:fail /);
    }
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ tradeState: 'NOTPAY', notifyAttempts: 0 });
  });

  it("when the body is createPayment's payParams as they are (no appId, as wx.requestPayment takes none), then it pays with the simulator's AppID", async () => {
    const order = await placedOrder();
    const { appId: _appId, ...withoutAppId } = paymentParams(order.prepayId);
    const res = await postJson('/dev/request-payment', withoutAppId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ errMsg: 'requestPayment:ok', outTradeNo: order.outTradeNo });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ tradeState: 'SUCCESS' });
  });

  it('when the user cancels, then fail cancel with 200, nothing paid and no notify', async () => {
    const order = await placedOrder();
    const res = await requestPayment(order.prepayId, { cancel: true });
    expect(res).toEqual({ status: 200, body: { errMsg: 'requestPayment:fail cancel' } });
    await sleep(50);
    expect(received(order.slot)).toHaveLength(0);
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ tradeState: 'NOTPAY', notifyAttempts: 0 });
  });

  it.each<SignType>(['MD5', 'HMAC-SHA256'])(
    'when paid (%s), then a signed notify as WeChat sends it reaches notify_url',
    async (signType) => {
      const order = await placedOrder(signType, { total_fee: '100' });
      const res = await requestPayment(order.prepayId, {}, signType);
      expect(res.body.deliveries).toEqual([{ url: order.fields.notify_url, status: 200, returnCode: 'SUCCESS' }]);
      const [notify] = received(order.slot);
      expect(notify.contentType).toMatch(/^text\/xml/);
      expect(notify.fields).toMatchObject({
        return_code: 'SUCCESS',
        result_code: 'SUCCESS',
        appid: ID.appid,
        mch_id: ID.mchId,
        openid: order.fields.openid,
        is_subscribe: 'N',
        trade_type: 'JSAPI',
        bank_type: 'CMC',
        total_fee: '100',
        fee_type: 'CNY',
        cash_fee: '100',
        transaction_id: res.body.transactionId,
        out_trade_no: order.outTradeNo,
      });
      expect(notify.fields.sign_type).toBe(signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : undefined);
      expect(verifyPaySign(notify.fields, ID.payKey)).toBe(true);
      expect((await requestPayment(order.prepayId, {}, signType)).body).toEqual({
        errMsg: 'requestPayment:fail order already paid',
      });
    },
  );

  it('when duplicates is 5, then 5 identical notifies arrive', async () => {
    const order = await placedOrder();
    const res = await requestPayment(order.prepayId, { duplicates: 5 });
    expect(res.body.deliveries).toHaveLength(5);
    expect(received(order.slot)).toHaveLength(5);
    expect(new Set(received(order.slot).map((n) => n.fields.sign)).size).toBe(1);
    expect((await simOrder(order.outTradeNo)).body.notifyAttempts).toBe(5);
  });

  it('when notifyUrls are given, then the copies go round-robin over them', async () => {
    const order = await placedOrder();
    const [a, b] = [newSlot(), newSlot()];
    await requestPayment(order.prepayId, {
      duplicates: 4,
      notifyUrls: [`${merchantUrl}/notify/${a}`, `${merchantUrl}/notify/${b}`],
    });
    expect([received(a).length, received(b).length, received(order.slot).length]).toEqual([2, 2, 0]);
  });

  it('when tamper is sign, then the notify does not verify', async () => {
    const order = await placedOrder();
    await requestPayment(order.prepayId, { tamper: 'sign', duplicates: 2 });
    for (const n of received(order.slot)) expect(verifyPaySign(n.fields, ID.payKey)).toBe(false);
  });

  it('when tamper is amount, then the notify verifies but total_fee differs from the order', async () => {
    const order = await placedOrder('HMAC-SHA256', { total_fee: '500' });
    await requestPayment(order.prepayId, { tamper: 'amount' }, 'HMAC-SHA256');
    const [notify] = received(order.slot);
    expect(verifyPaySign(notify.fields, ID.payKey)).toBe(true);
    expect(notify.fields.total_fee).toBe('501');
  });

  it('when deliver is false, then no notify is sent and only orderquery tells the payment', async () => {
    const order = await placedOrder();
    const res = await requestPayment(order.prepayId, { deliver: false });
    expect(res.body).toMatchObject({ errMsg: 'requestPayment:ok', deliveries: [] });
    await sleep(100);
    expect(received(order.slot)).toHaveLength(0);
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ tradeState: 'SUCCESS', notifyAttempts: 0 });
  });

  it('when wait is false, then the answer comes at once and the notify arrives anyway', async () => {
    const order = await placedOrder();
    const res = await requestPayment(order.prepayId, { wait: false });
    expect(res.body).toMatchObject({ errMsg: 'requestPayment:ok', deliveries: [] });
    await waitFor(() => received(order.slot).length === 1);
  });

  it.each(['fail', 'http500', 'garbage'] as const)(
    'when the merchant answers badly (%s) 3 times, then WeChat retries until SUCCESS, then stops',
    async (how) => {
      const order = await placedOrder();
      failures.set(order.slot, { left: 3, how });
      const res = await requestPayment(order.prepayId);
      const first = (res.body.deliveries as { status: number; returnCode: string | null }[])[0];
      expect(first).toEqual({
        url: order.fields.notify_url,
        ...{
          fail: { status: 200, returnCode: 'FAIL' },
          http500: { status: 500, returnCode: null },
          garbage: { status: 200, returnCode: null },
        }[how],
      });
      // 15 ms, 15 ms, 30 ms: WeChat's 15 s, 15 s, 30 s compressed 1000×.
      await waitFor(() => received(order.slot).length === 4);
      await sleep(250);
      expect(received(order.slot)).toHaveLength(4);
      expect((await simOrder(order.outTradeNo)).body.notifyAttempts).toBe(4);
    },
  );

  it('when the notify_url refuses connections, then the first delivery reports no status', async () => {
    const order = await placedOrder('MD5', { notify_url: 'http://127.0.0.1:1/notify' });
    const res = await requestPayment(order.prepayId);
    expect(res.body.deliveries).toEqual([{ url: 'http://127.0.0.1:1/notify', status: null, returnCode: null }]);
  });

  it('when the simulator closes, then pending retries are dropped', async () => {
    const own = await startSimulator();
    const res = await fetch(`${own.url}/pay/unifiedorder`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: buildPayXml(signed(orderFields())),
    });
    const answer = parsePayXml(await res.text());
    const slot = newSlot();
    failures.set(slot, { left: 1000, how: 'fail' });
    await postJson(
      '/dev/request-payment',
      { ...paymentParams(answer.prepay_id), notifyUrls: [`${merchantUrl}/notify/${slot}`] },
      own.url,
    );
    await own.app.close();
    const seen = received(slot).length;
    await sleep(150);
    expect(received(slot)).toHaveLength(seen);
  });

  it('when a dev option is malformed, then 400 and nothing is paid', async () => {
    const order = await placedOrder();
    expect((await requestPayment(order.prepayId, { duplicates: 101 })).status).toBe(400);
    expect((await requestPayment(order.prepayId, { tamper: 'fee' })).status).toBe(400);
    expect((await simOrder(order.outTradeNo)).body.tradeState).toBe('NOTPAY');
  });
});

describe('GET /dev/orders/:outTradeNo', () => {
  it('when the order is unknown, then 404', async () => {
    expect((await simOrder('unknown')).status).toBe(404);
  });
});

// --- WeChat's layouts and content types -------------------------------------------------------------

/** Which of pay-xml's layouts a message was written in. */
function layoutOf(xml: string): PayXmlLayout {
  if (xml.includes('\r\n')) return 'crlf';
  if (xml.startsWith('<xml>\n  <')) return 'indented';
  if (xml.includes('\n')) return 'newline';
  return 'compact';
}

describe("the simulator's XML layout (SIMULATOR_XML_LAYOUT)", () => {
  const started: FastifyInstance[] = [];
  const own = async (xmlLayout?: SimulatorXmlLayout) => {
    const s = await startSimulator(undefined, { xmlLayout });
    started.push(s.app);
    return s.url;
  };
  afterAll(async () => {
    for (const app of started) await app.close();
  });
  const query = (base: string, outTradeNo = 'nope') =>
    callPay('/pay/orderquery', { appid: ID.appid, mch_id: ID.mchId, out_trade_no: outTradeNo }, 'MD5', base);

  it("when no layout is set, then answers and notifies are WeChat's own: a newline after each field, strings in CDATA, numbers bare", async () => {
    const base = await own();
    const fields = orderFields({ total_fee: '3' });
    const placed = await callPay('/pay/unifiedorder', fields, 'MD5', base);
    expect(placed.text).toMatch(
      /^<xml><return_code><!\[CDATA\[SUCCESS\]\]><\/return_code>\n<return_msg><!\[CDATA\[OK\]\]><\/return_msg>\n<appid>/,
    );
    expect(placed.text.endsWith('</sign>\n</xml>')).toBe(true);
    expect(verifyPaySign(placed.answer, ID.payKey)).toBe(true);

    const queried = await query(base, fields.out_trade_no);
    expect(queried.text).toContain('\n<total_fee>3</total_fee>\n');
    expect(queried.text).toContain('\n<trade_state><![CDATA[NOTPAY]]></trade_state>\n');

    await postJson('/dev/request-payment', paymentParams(placed.answer.prepay_id), base);
    const [notify] = received(fields.notify_url.split('/').pop()!);
    expect(notify.text).toMatch(/^<xml><return_code><!\[CDATA\[SUCCESS\]\]><\/return_code>\n/);
    expect(notify.text).toContain(
      '\n<total_fee>3</total_fee>\n<fee_type><![CDATA[CNY]]></fee_type>\n<cash_fee>3</cash_fee>\n',
    );
    expect(verifyPaySign(notify.fields, ID.payKey)).toBe(true);
  });

  it.each(PAY_XML_LAYOUTS)(
    'when the layout is %s, then every answer and notify comes so, and each verifies',
    async (layout) => {
      const base = await own(layout);
      const fields = orderFields();
      const placed = await callPay('/pay/unifiedorder', fields, 'HMAC-SHA256', base);
      expect(layoutOf(placed.text)).toBe(layout);
      expect(verifyPaySign(placed.answer, ID.payKey, 'HMAC-SHA256')).toBe(true);
      const missing = await query(base);
      expect(layoutOf(missing.text)).toBe(layout);
      expect(missing.answer).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });

      await postJson('/dev/request-payment', paymentParams(placed.answer.prepay_id, 'HMAC-SHA256'), base);
      const [notify] = received(fields.notify_url.split('/').pop()!);
      expect(layoutOf(notify.text)).toBe(layout);
      expect(verifyPaySign(notify.fields, ID.payKey)).toBe(true);
      expect(notify.fields.total_fee).toBe('1');
    },
  );

  it('when the layout is vary, then consecutive messages take every layout in turn, and each verifies', async () => {
    const base = await own('vary');
    const seen: PayXmlLayout[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await query(base);
      expect(verifyPaySign(res.answer, ID.payKey)).toBe(true);
      seen.push(layoutOf(res.text));
    }
    expect(seen).toEqual([...PAY_XML_LAYOUTS, ...PAY_XML_LAYOUTS]);
  });

  it.each(PAY_XML_LAYOUTS)(
    "when the simulator answers %s, then the pay client's unifiedorder, orderquery and closeorder accept and verify it",
    async (layout) => {
      const base = await own(layout);
      for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
        const client = createPayClient({
          apiBase: () => base,
          appid: ID.appid,
          mchId: ID.mchId,
          key: ID.payKey,
          signType,
          timeoutMs: 5000,
        });
        const input = {
          outTradeNo: newOutTradeNo(),
          totalFee: 1,
          body: '测试 <&> ]]> 🍵',
          openid: newOpenid(),
          clientIp: '127.0.0.1',
          notifyUrl: `${merchantUrl}/notify/${newSlot()}`,
        };
        const { prepayId } = await client.unifiedOrder(input);
        expect(prepayId).toMatch(/^wx/);
        expect(await client.orderQuery(input.outTradeNo)).toMatchObject({
          tradeState: 'NOTPAY',
          fields: { total_fee: '1', out_trade_no: input.outTradeNo },
        });
        await client.closeOrder(input.outTradeNo);
        expect((await client.orderQuery(input.outTradeNo)).tradeState).toBe('CLOSED');
      }
    },
  );
});

describe("the simulator's pay endpoints read the body whatever the Content-Type, as WeChat does", () => {
  /** Posts with exactly this Content-Type, or none at all (fetch would add text/plain to a string body). */
  function post(
    path: string,
    body: string,
    contentType: string | undefined,
    base = simUrl,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(path, base);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-length': Buffer.byteLength(body),
            ...(contentType ? { 'content-type': contentType } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it.each([
    undefined,
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json',
    'application/octet-stream',
    'text/xml; charset=utf-8',
    'application/xml',
  ])('when the Content-Type is %s, then /pay/unifiedorder reads the XML and places the order', async (contentType) => {
    const fields = signed(orderFields());
    const res = await post('/pay/unifiedorder', buildPayXml(fields, 'newline'), contentType);
    expect(res.status).toBe(200);
    const answer = parsePayXml(res.text);
    expect(answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
    expect(verifyPaySign(answer, ID.payKey)).toBe(true);
  });

  it.each(['/pay/orderquery', '/pay/closeorder'])(
    'when %s gets its XML as application/json or with no Content-Type, then it reads it too',
    async (path) => {
      const order = await placedOrder();
      for (const contentType of ['application/json', undefined]) {
        const res = await post(
          path,
          buildPayXml(signed({ appid: ID.appid, mch_id: ID.mchId, out_trade_no: order.outTradeNo }), 'crlf'),
          contentType,
        );
        expect(parsePayXml(res.text)).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
      }
    },
  );

  it('when the /dev routes get a body their JSON parser cannot read, then they still refuse it (415): the catch-all stays in /pay', async () => {
    for (const contentType of ['text/xml', 'application/x-www-form-urlencoded']) {
      expect((await post('/dev/pay-fault', '<xml><openid>o1</openid></xml>', contentType)).status).toBe(415);
    }
    expect(
      (
        await post(
          '/dev/pay-fault',
          JSON.stringify({ openid: newOpenid(), fault: { errCode: 'SYSTEMERROR' } }),
          'application/json',
        )
      ).status,
    ).toBe(200);
  });

  it("when the host app has its own routes, then the simulator's catch-all parser does not reach them", async () => {
    const host = await startSimulator((app) => app.post('/app-json', async (req) => ({ got: req.body })));
    try {
      expect((await post('/app-json', '<xml><a>1</a></xml>', 'text/xml', host.url)).status).toBe(415);
      expect(JSON.parse((await post('/app-json', '{"a":1}', 'application/json', host.url)).text)).toEqual({
        got: { a: 1 },
      });
    } finally {
      await host.app.close();
    }
  });
});
