import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import Fastify, { type FastifyInstance } from 'fastify';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { paySign, type SignType, verifyPaySign } from '../../src/wechat/pay-sign';
import { buildPayXml, NOTIFY_SUCCESS, notifyFail, parsePayXml } from '../../src/wechat/pay-xml';
import { decryptRefundNotify } from '../../src/wechat/refund-notify';
import { markServicesSuite } from '../support/server';
import { listen, listenSimulator } from '../support/simulator-app';
import { onServices } from '../support/target';
import { createTestCa, simulatorTls } from '../support/test-ca';

// The simulator keeps its state in memory: it runs alike on both projects,
// and is marked as run on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

/**
 * The simulated WeChat Pay's refunds over real mutual TLS: a throwaway CA (openssl) signs the simulator's server
 * certificate and the merchant's client certificate, and node:https presents it. A tiny merchant receives the refund
 * notifies, each test at its own /notify/:slot.
 */
const ID = SIMULATOR_IDENTITY;
const ca = createTestCa();
const pem = (path: string) => readFileSync(path, 'utf8');
const CLIENT = { cert: pem(ca.client), key: pem(ca.clientKey) };

let sim: FastifyInstance;
let simUrl: string;
let httpsUrl: string;
let merchant: FastifyInstance;
let merchantUrl: string;
const inbox = new Map<string, string[]>();
/** How many times a slot answers FAIL before it answers SUCCESS. */
const failures = new Map<string, number>();

beforeAll(async () => {
  ({ app: sim, url: simUrl } = await listenSimulator({
    xmlLayout: 'vary',
    tls: simulatorTls(ca),
    onHttps: (url) => {
      httpsUrl = url;
    },
  }));

  merchant = Fastify();
  merchant.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  merchant.post<{ Params: { slot: string }; Body: string }>('/notify/:slot', async (req, reply) => {
    inbox.set(req.params.slot, [...(inbox.get(req.params.slot) ?? []), req.body]);
    const left = failures.get(req.params.slot) ?? 0;
    if (left > 0) {
      failures.set(req.params.slot, left - 1);
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
const newNo = (p: string) => p + Date.now() + randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(10);
  }
}

/** A POST over HTTPS that trusts the test CA and presents `client` (or no certificate); one connection per call. */
function httpsPost(
  path: string,
  body: string,
  client?: { cert: string; key: string },
  agent: HttpsAgent | false = false,
): Promise<{ status: number; text: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${httpsUrl}${path}`,
      { method: 'POST', ca: pem(ca.ca), ...client, agent, headers: { 'content-type': 'text/xml' } },
      (res) => {
        let text = '';
        const reused = (res.socket as import('node:tls').TLSSocket).isSessionReused();
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, reused }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function httpPost(path: string, body: string) {
  const res = await fetch(`${simUrl}${path}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
  return { status: res.status, text: await res.text() };
}

function signed(fields: Record<string, string | number>, signType: SignType = 'MD5', key: string = ID.payKey): string {
  const all = {
    appid: ID.appid,
    mch_id: ID.mchId,
    ...fields,
    ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}),
    nonce_str: nonce(),
  };
  return buildPayXml({ ...all, sign: paySign(all, key, signType) });
}

async function postJson(path: string, body: unknown) {
  const res = await fetch(`${simUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function getJson(path: string) {
  const res = await fetch(`${simUrl}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** An order placed over plain HTTP and paid at the phone, its pay notify lost on purpose (no merchant needed). */
async function paidOrder(totalFee = 100) {
  const outTradeNo = newNo('T');
  const placed = parsePayXml(
    (
      await httpPost(
        '/pay/unifiedorder',
        signed({
          body: '退款测试',
          out_trade_no: outTradeNo,
          total_fee: totalFee,
          spbill_create_ip: '127.0.0.1',
          notify_url: `${merchantUrl}/notify/pay-${newSlot()}`,
          trade_type: 'JSAPI',
          openid: 'o' + randomBytes(13).toString('hex').slice(0, 27),
        }),
      )
    ).text,
  );
  expect(placed.result_code).toBe('SUCCESS');
  const params = {
    appId: ID.appid,
    timeStamp: String(Math.floor(Date.now() / 1000)),
    nonceStr: nonce(),
    package: `prepay_id=${placed.prepay_id}`,
    signType: 'MD5',
  };
  const paid = await postJson('/dev/request-payment', {
    ...params,
    paySign: paySign(params, ID.payKey, 'MD5'),
    deliver: false,
  });
  expect(paid.body).toMatchObject({ errMsg: 'requestPayment:ok', deliveries: [] });
  return { outTradeNo, transactionId: paid.body.transactionId as string, totalFee };
}

interface RefundCall {
  outTradeNo?: string;
  transactionId?: string;
  outRefundNo?: string;
  totalFee: number;
  refundFee: number;
  slot?: string;
  signType?: SignType;
  extra?: Record<string, string>;
}

/** /secapi/pay/refund over mutual TLS with the merchant's certificate, signed; the answer parsed. */
/** `client` null: no certificate at all. */
async function refund(call: RefundCall, client: { cert: string; key: string } | null = CLIENT) {
  const outRefundNo = call.outRefundNo ?? newNo('R');
  const fields: Record<string, string | number> = {
    ...(call.outTradeNo ? { out_trade_no: call.outTradeNo } : {}),
    ...(call.transactionId ? { transaction_id: call.transactionId } : {}),
    out_refund_no: outRefundNo,
    total_fee: call.totalFee,
    refund_fee: call.refundFee,
    ...(call.slot ? { notify_url: `${merchantUrl}/notify/${call.slot}` } : {}),
    ...call.extra,
  };
  const res = await httpsPost('/secapi/pay/refund', signed(fields, call.signType), client ?? undefined);
  return { ...res, answer: parsePayXml(res.text), outRefundNo };
}

async function refundQuery(ids: Record<string, string | undefined>, signType: SignType = 'MD5') {
  const res = await httpsPost('/pay/refundquery', signed(ids as Record<string, string>, signType));
  const answer = parsePayXml(res.text);
  if (answer.sign) expect(verifyPaySign(answer, ID.payKey, signType)).toBe(true);
  return answer;
}

const simRefund = (outRefundNo: string) => getJson(`/dev/refunds/${outRefundNo}`);
const simOrder = (outTradeNo: string) => getJson(`/dev/orders/${outTradeNo}`);

async function settled(outRefundNo: string) {
  await waitFor(async () => (await simRefund(outRefundNo)).body.status !== 'PROCESSING');
  return (await simRefund(outRefundNo)).body;
}

async function hold<T>(run: () => Promise<T>): Promise<T> {
  await postJson('/dev/refund-hold', { hold: true });
  try {
    return await run();
  } finally {
    await postJson('/dev/refund-hold', { hold: false });
  }
}

// --- mutual TLS ---------------------------------------------------------------------------------------

describe('the pay API over HTTPS', () => {
  it('when tls is given, then onHttps tells an https://127.0.0.1 URL serving the same ledger as plain HTTP', async () => {
    expect(httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const order = await paidOrder(3);
    // orderquery needs no client certificate, over either listener.
    const res = await httpsPost('/pay/orderquery', signed({ out_trade_no: order.outTradeNo }));
    expect(parsePayXml(res.text)).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      transaction_id: order.transactionId,
    });
  });
});

describe('POST /secapi/pay/refund: the client certificate', () => {
  const cases: [string, (() => { cert: string; key: string }) | undefined, RegExp][] = [
    ['no client certificate', undefined, /no client certificate was presented/],
    [
      "a certificate another CA signed (the mch_id's CN, but not WeChat Pay's CA)",
      () => ({ cert: pem(ca.otherClient), key: pem(ca.otherClientKey) }),
      /not issued by WeChat Pay's CA/,
    ],
    [
      "another merchant's certificate from the right CA",
      () => ({ cert: pem(ca.otherMerchantClient), key: pem(ca.otherMerchantClientKey) }),
      /merchant 1900000000's, not mch_id 1900000109's/,
    ],
  ];
  it.each(cases)(
    'when %s, then return_code FAIL naming the certificate problem, and nothing is refunded',
    async (_, client, msg) => {
      const order = await paidOrder(10);
      const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 1 }, client?.() ?? null);
      expect(res.status).toBe(200);
      expect(res.answer.return_code).toBe('FAIL');
      expect(res.answer.return_msg).toMatch(/证书校验错误/);
      expect(res.answer.return_msg).toMatch(msg);
      expect(res.answer.sign).toBeUndefined();
      expect((await simRefund(res.outRefundNo)).status).toBe(404);
      expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 0 });
    },
  );

  it.each([
    ['keeps its connection alive', { keepAlive: true }],
    ['resumes its TLS session on new connections', { keepAlive: false }],
  ])('when the merchant’s agent %s, then every refund still counts its certificate', async (_, options) => {
    const agent = new HttpsAgent({ ...options, ca: pem(ca.ca), ...CLIENT });
    try {
      const order = await paidOrder(10);
      const reused: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const fields = { out_trade_no: order.outTradeNo, out_refund_no: newNo('R'), total_fee: 10, refund_fee: 1 };
        const res = await httpsPost('/secapi/pay/refund', signed(fields), undefined, agent);
        expect(parsePayXml(res.text)).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS' });
        reused.push(res.reused);
      }
      // Without keep-alive, the later connections resume the first one's session: the case to prove.
      if (!options.keepAlive) expect(reused.slice(1)).toContain(true);
      expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 3 });
    } finally {
      agent.destroy();
    }
  });

  it('when it comes over plain HTTP, then return_code FAIL: mutual TLS is required', async () => {
    const order = await paidOrder(10);
    const outRefundNo = newNo('R');
    const res = await httpPost(
      '/secapi/pay/refund',
      signed({ out_trade_no: order.outTradeNo, out_refund_no: outRefundNo, total_fee: 10, refund_fee: 1 }),
    );
    const answer = parsePayXml(res.text);
    expect(answer.return_code).toBe('FAIL');
    expect(answer.return_msg).toMatch(/证书校验错误.*mutual TLS.*plain HTTP/);
    expect((await simRefund(outRefundNo)).status).toBe(404);
  });
});

// --- refunds ------------------------------------------------------------------------------------------

describe('POST /secapi/pay/refund', () => {
  it.each<SignType>(['MD5', 'HMAC-SHA256'])(
    'when a %s-signed partial refund and then the rest come, then both succeed signed alike, and a third is ERROR 订单已全额退款',
    async (signType) => {
      const order = await paidOrder(100);
      const first = await refund({ outTradeNo: order.outTradeNo, totalFee: 100, refundFee: 30, signType });
      expect(first.answer).toMatchObject({
        return_code: 'SUCCESS',
        result_code: 'SUCCESS',
        appid: ID.appid,
        mch_id: ID.mchId,
        transaction_id: order.transactionId,
        out_trade_no: order.outTradeNo,
        out_refund_no: first.outRefundNo,
        refund_fee: '30',
        total_fee: '100',
        cash_fee: '100',
      });
      expect(first.answer.refund_id).toMatch(/^503\d{26}$/);
      expect(first.answer.nonce_str).toBeTruthy();
      expect(verifyPaySign(first.answer, ID.payKey, signType)).toBe(true);
      expect(verifyPaySign(first.answer, ID.payKey, signType === 'MD5' ? 'HMAC-SHA256' : 'MD5')).toBe(false);

      const rest = await refund({ transactionId: order.transactionId, totalFee: 100, refundFee: 70, signType });
      expect(rest.answer).toMatchObject({ result_code: 'SUCCESS', refund_fee: '70', out_trade_no: order.outTradeNo });
      expect(rest.answer.refund_id).not.toBe(first.answer.refund_id);

      const more = await refund({ outTradeNo: order.outTradeNo, totalFee: 100, refundFee: 1, signType });
      expect(more.answer).toMatchObject({
        return_code: 'SUCCESS',
        result_code: 'FAIL',
        err_code: 'ERROR',
        err_code_des: '订单已全额退款',
      });
      expect(verifyPaySign(more.answer, ID.payKey, signType)).toBe(true);
      expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 100 });
    },
  );

  it('when the same out_refund_no comes again with the same fee, then the same refund_id and nothing more is refunded; with another fee, REFUND_FEE_MISMATCH', async () => {
    const order = await paidOrder(50);
    const first = await refund({ outTradeNo: order.outTradeNo, totalFee: 50, refundFee: 20 });
    expect(first.answer.result_code).toBe('SUCCESS');
    await settled(first.outRefundNo);
    const again = await refund({
      outTradeNo: order.outTradeNo,
      outRefundNo: first.outRefundNo,
      totalFee: 50,
      refundFee: 20,
    });
    expect(again.answer).toMatchObject({ result_code: 'SUCCESS', refund_id: first.answer.refund_id, refund_fee: '20' });
    const changed = await refund({
      outTradeNo: order.outTradeNo,
      outRefundNo: first.outRefundNo,
      totalFee: 50,
      refundFee: 21,
    });
    expect(changed.answer).toMatchObject({
      result_code: 'FAIL',
      err_code: 'REFUND_FEE_MISMATCH',
      err_code_des: '订单金额或退款金额与之前请求不一致，请核实后再试',
    });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 20 });
    expect((await refundQuery({ out_trade_no: order.outTradeNo })).refund_count).toBe('1');

    // The same out_refund_no on another order is not a replay.
    const other = await paidOrder(50);
    const reused = await refund({
      outTradeNo: other.outTradeNo,
      outRefundNo: first.outRefundNo,
      totalFee: 50,
      refundFee: 20,
    });
    expect(reused.answer).toMatchObject({ result_code: 'FAIL', err_code: 'INVALID_REQUEST' });
  });

  it('when refunds would go past the amount paid, then INVALID_REQUEST refund_fee大于可退金额 and the ledger keeps what fits', async () => {
    const order = await paidOrder(10);
    expect((await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 6 })).answer.result_code).toBe(
      'SUCCESS',
    );
    const over = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 5 });
    expect(over.answer).toMatchObject({
      result_code: 'FAIL',
      err_code: 'INVALID_REQUEST',
      err_code_des: 'refund_fee大于可退金额',
    });
    expect((await simRefund(over.outRefundNo)).status).toBe(404);
    expect((await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 4 })).answer.result_code).toBe(
      'SUCCESS',
    );
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 10 });
  });

  it('when concurrent refunds race for a small amount, then exactly as many succeed as fit', async () => {
    const order = await paidOrder(5);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => refund({ outTradeNo: order.outTradeNo, totalFee: 5, refundFee: 2 })),
    );
    expect(answers.filter((a) => a.answer.result_code === 'SUCCESS')).toHaveLength(2);
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 4 });
  });

  it('when refund_fee exceeds total_fee, then return_code FAIL invalid refund_fee; when total_fee is not the order amount, then REFUND_FEE_MISMATCH', async () => {
    const order = await paidOrder(10);
    const big = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 11 });
    expect(big.answer).toEqual({ return_code: 'FAIL', return_msg: 'invalid refund_fee' });
    const wrongTotal = await refund({ outTradeNo: order.outTradeNo, totalFee: 9, refundFee: 1 });
    expect(wrongTotal.answer).toMatchObject({ result_code: 'FAIL', err_code: 'REFUND_FEE_MISMATCH' });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 0 });
  });

  it('when an order has 50 refunds, then the 51st is refused (INVALID_REQUEST) even with amount left', async () => {
    const order = await paidOrder(100);
    for (let i = 0; i < 50; i++) {
      const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 100, refundFee: 1 });
      expect(res.answer.result_code).toBe('SUCCESS');
    }
    const fiftyFirst = await refund({ outTradeNo: order.outTradeNo, totalFee: 100, refundFee: 1 });
    expect(fiftyFirst.answer).toMatchObject({ result_code: 'FAIL', err_code: 'INVALID_REQUEST' });
    expect(fiftyFirst.answer.err_code_des).toMatch(/50/);
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 50 });
  });

  it('when the sign is wrong, then SIGNERROR and no refund', async () => {
    const order = await paidOrder(10);
    const outRefundNo = newNo('R');
    const fields = { out_trade_no: order.outTradeNo, out_refund_no: outRefundNo, total_fee: 10, refund_fee: 1 };
    const res = await httpsPost('/secapi/pay/refund', signed(fields, 'MD5', 'not-the-key'), CLIENT);
    expect(parsePayXml(res.text)).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SIGNERROR' });
    expect((await simRefund(outRefundNo)).status).toBe(404);
  });

  it('when the order is unpaid, unknown, its transaction_id unknown, or paid over a year ago, then WeChat’s err_codes', async () => {
    const unpaidNo = newNo('T');
    await httpPost(
      '/pay/unifiedorder',
      signed({
        body: 'x',
        out_trade_no: unpaidNo,
        total_fee: 10,
        spbill_create_ip: '127.0.0.1',
        notify_url: `${merchantUrl}/notify/x`,
        trade_type: 'JSAPI',
        openid: 'o' + randomBytes(13).toString('hex').slice(0, 27),
      }),
    );
    expect((await refund({ outTradeNo: unpaidNo, totalFee: 10, refundFee: 1 })).answer).toMatchObject({
      result_code: 'FAIL',
      err_code: 'ORDERNOTEXIST',
    });
    expect((await refund({ outTradeNo: newNo('T'), totalFee: 10, refundFee: 1 })).answer.err_code).toBe(
      'ORDERNOTEXIST',
    );
    expect(
      (await refund({ transactionId: '4200000000000000000000000000', totalFee: 10, refundFee: 1 })).answer.err_code,
    ).toBe('INVALID_TRANSACTIONID');
    const old = await paidOrder(10);
    expect((await postJson(`/dev/orders/${old.outTradeNo}/backdate`, { days: 366 })).status).toBe(200);
    expect((await refund({ outTradeNo: old.outTradeNo, totalFee: 10, refundFee: 1 })).answer).toMatchObject({
      err_code: 'TRADE_OVERDUE',
      err_code_des: '订单已经超过退款期限',
    });
  });

  it.each([
    ['no order id', { out_trade_no: '' }],
    ['no out_refund_no', { out_refund_no: '' }],
    ['a fractional refund_fee', { refund_fee: '0.5' }],
    ['a zero refund_fee', { refund_fee: '0' }],
    ['another currency', { refund_fee_type: 'USD' }],
    ['a notify_url that is no URL', { notify_url: 'not a url' }],
  ])('when the request has %s, then PARAM_ERROR', async (_, override) => {
    const order = await paidOrder(10);
    const fields = {
      out_trade_no: order.outTradeNo,
      out_refund_no: newNo('R'),
      total_fee: '10',
      refund_fee: '1',
      ...override,
    };
    const res = await httpsPost('/secapi/pay/refund', signed(fields), CLIENT);
    expect(parsePayXml(res.text)).toMatchObject({ result_code: 'FAIL', err_code: 'PARAM_ERROR' });
  });
});

// --- faults ---------------------------------------------------------------------------------------------

describe('POST /dev/refund-fault', () => {
  it.each(['SYSTEMERROR', 'BIZERR_NEED_RETRY', 'NOTENOUGH', 'USER_ACCOUNT_ABNORMAL'])(
    'when %s is armed, then the next refund answers it signed, takes nothing, and the one after goes through',
    async (errCode) => {
      const order = await paidOrder(10);
      expect((await postJson('/dev/refund-fault', { errCode })).status).toBe(200);
      const failed = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 3 });
      expect(failed.answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode });
      expect(verifyPaySign(failed.answer, ID.payKey)).toBe(true);
      expect((await simRefund(failed.outRefundNo)).status).toBe(404);
      const retried = await refund({
        outTradeNo: order.outTradeNo,
        outRefundNo: failed.outRefundNo,
        totalFee: 10,
        refundFee: 3,
      });
      expect(retried.answer.result_code).toBe('SUCCESS');
    },
  );

  it('when SYSTEMERROR is armed with accept, then the refund is made though the answer fails, and the retry with the same out_refund_no answers that refund', async () => {
    const order = await paidOrder(10);
    await postJson('/dev/refund-fault', { errCode: 'SYSTEMERROR', accept: true });
    const failed = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 3 });
    expect(failed.answer.err_code).toBe('SYSTEMERROR');
    const made = (await simRefund(failed.outRefundNo)).body;
    expect(made).toMatchObject({ refundFee: 3 });
    const retried = await refund({
      outTradeNo: order.outTradeNo,
      outRefundNo: failed.outRefundNo,
      totalFee: 10,
      refundFee: 3,
    });
    expect(retried.answer).toMatchObject({ result_code: 'SUCCESS', refund_id: made.refundId });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 3 });
  });

  it('when delayMs is armed and the merchant gives up waiting, then the refund was still made, and the retry answers it', async () => {
    const order = await paidOrder(10);
    await postJson('/dev/refund-fault', { delayMs: 5000 });
    const outRefundNo = newNo('R');
    const fields = { out_trade_no: order.outTradeNo, out_refund_no: outRefundNo, total_fee: 10, refund_fee: 2 };
    const gaveUp = await new Promise<string>((resolve) => {
      const req = httpsRequest(`${httpsUrl}/secapi/pay/refund`, {
        method: 'POST',
        ca: pem(ca.ca),
        ...CLIENT,
        agent: false,
        signal: AbortSignal.timeout(200),
      });
      req.on('response', () => resolve('answered'));
      req.on('error', (err) => resolve(err.name));
      req.end(signed(fields));
    });
    expect(gaveUp).toBe('AbortError');
    await waitFor(async () => (await simRefund(outRefundNo)).status === 200);
    const made = (await simRefund(outRefundNo)).body;
    const retried = await refund({ outTradeNo: order.outTradeNo, outRefundNo, totalFee: 10, refundFee: 2 });
    expect(retried.answer).toMatchObject({ result_code: 'SUCCESS', refund_id: made.refundId });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 2 });
  });

  it('when returnFail, an HTTP status or garbage is armed for 3 calls, then each answers so, in turn', async () => {
    const order = await paidOrder(10);
    await postJson('/dev/refund-fault', { returnFail: true });
    await postJson('/dev/refund-fault', { httpStatus: 502 });
    await postJson('/dev/refund-fault', { garbage: true });
    const a = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 1 });
    expect(a.answer.return_code).toBe('FAIL');
    const b = await httpsPost(
      '/secapi/pay/refund',
      signed({ out_trade_no: order.outTradeNo, out_refund_no: newNo('R'), total_fee: 10, refund_fee: 1 }),
      CLIENT,
    );
    expect(b.status).toBe(502);
    const c = await httpsPost(
      '/secapi/pay/refund',
      signed({ out_trade_no: order.outTradeNo, out_refund_no: newNo('R'), total_fee: 10, refund_fee: 1 }),
      CLIENT,
    );
    expect(() => parsePayXml(c.text)).toThrow();
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ refundedFee: 0 });
  });

  it('when a fault is shaped wrongly, then 400', async () => {
    for (const body of [{ errCode: 5 }, { count: 0 }, { delayMs: -1 }, { httpStatus: 200 }]) {
      expect((await postJson('/dev/refund-fault', body)).status).toBe(400);
    }
  });
});

// --- states, refundquery, orderquery -------------------------------------------------------------------

describe('a refund’s life: PROCESSING, then settled', () => {
  it('when held, then refundquery says PROCESSING and orderquery still SUCCESS; once let go, SUCCESS with its time, and orderquery REFUND', async () => {
    const order = await paidOrder(20);
    const made = await hold(async () => {
      const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 20, refundFee: 5 });
      await waitFor(async () => (await simRefund(res.outRefundNo)).body.held === true);
      const q = await refundQuery({ out_refund_no: res.outRefundNo });
      expect(q).toMatchObject({
        return_code: 'SUCCESS',
        result_code: 'SUCCESS',
        refund_count: '1',
        out_refund_no_0: res.outRefundNo,
        refund_id_0: res.answer.refund_id,
        refund_fee_0: '5',
        refund_status_0: 'PROCESSING',
      });
      expect(q.refund_success_time_0).toBeUndefined();
      const oq = parsePayXml((await httpPost('/pay/orderquery', signed({ out_trade_no: order.outTradeNo }))).text);
      expect(oq.trade_state).toBe('SUCCESS');
      return res;
    });
    const entry = await settled(made.outRefundNo);
    expect(entry).toMatchObject({ status: 'SUCCESS', held: false });
    expect(entry.successTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    for (const ids of [
      { refund_id: made.answer.refund_id },
      { out_refund_no: made.outRefundNo },
      { transaction_id: order.transactionId },
      { out_trade_no: order.outTradeNo },
    ]) {
      const q = await refundQuery(ids, 'HMAC-SHA256');
      expect(q).toMatchObject({
        result_code: 'SUCCESS',
        transaction_id: order.transactionId,
        out_trade_no: order.outTradeNo,
        total_fee: '20',
        cash_fee: '20',
        refund_count: '1',
        refund_status_0: 'SUCCESS',
        settlement_refund_fee_0: '5',
        refund_success_time_0: entry.successTime,
        refund_recv_accout_0: '支付用户零钱',
      });
    }
    const oq = parsePayXml((await httpPost('/pay/orderquery', signed({ out_trade_no: order.outTradeNo }))).text);
    expect(oq).toMatchObject({
      trade_state: 'REFUND',
      trade_state_desc: '转入退款',
      transaction_id: order.transactionId,
    });
    expect((await simOrder(order.outTradeNo)).body).toMatchObject({ tradeState: 'REFUND' });
  });

  it('when REFUNDCLOSE is armed, then the refund closes, its amount is refundable again, and orderquery stays SUCCESS', async () => {
    const order = await paidOrder(10);
    await postJson('/dev/refund-next', { outcome: 'REFUNDCLOSE' });
    const closed = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 10 });
    expect(closed.answer.result_code).toBe('SUCCESS');
    expect(await settled(closed.outRefundNo)).toMatchObject({ status: 'REFUNDCLOSE' });
    expect((await refundQuery({ out_refund_no: closed.outRefundNo })).refund_status_0).toBe('REFUNDCLOSE');
    const oq = parsePayXml((await httpPost('/pay/orderquery', signed({ out_trade_no: order.outTradeNo }))).text);
    expect(oq.trade_state).toBe('SUCCESS');
    const again = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 10 });
    expect(again.answer.result_code).toBe('SUCCESS');
    const q = await refundQuery({ out_trade_no: order.outTradeNo });
    expect(q).toMatchObject({
      refund_count: '2',
      out_refund_no_0: closed.outRefundNo,
      out_refund_no_1: again.outRefundNo,
    });
  });

  it('when a held refund is settled on demand as CHANGE, then refundquery says CHANGE; a settled one cannot be settled again (409)', async () => {
    const order = await paidOrder(10);
    const res = await hold(async () => {
      const r = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 2 });
      const settle = await postJson(`/dev/refunds/${r.outRefundNo}/settle`, { status: 'CHANGE' });
      expect(settle.body).toMatchObject({ status: 'CHANGE' });
      return r;
    });
    expect((await refundQuery({ refund_id: res.answer.refund_id })).refund_status_0).toBe('CHANGE');
    expect((await postJson(`/dev/refunds/${res.outRefundNo}/settle`, {})).status).toBe(409);
  });

  it('when nothing matches, then REFUNDNOTEXIST; a paid order without refunds too', async () => {
    const order = await paidOrder(10);
    for (const ids of [
      { out_refund_no: newNo('R') },
      { refund_id: '50300000000000000000000000000' },
      { out_trade_no: order.outTradeNo },
    ]) {
      expect(await refundQuery(ids)).toMatchObject({ result_code: 'FAIL', err_code: 'REFUNDNOTEXIST' });
    }
    expect(await refundQuery({})).toMatchObject({ err_code: 'PARAM_ERROR' });
  });

  it('when an order has more than 10 refunds, then refundquery pages them by offset with total_refund_count', async () => {
    const order = await paidOrder(100);
    const nos: string[] = [];
    for (let i = 0; i < 12; i++)
      nos.push((await refund({ outTradeNo: order.outTradeNo, totalFee: 100, refundFee: 1 })).outRefundNo);
    const first = await refundQuery({ out_trade_no: order.outTradeNo });
    expect(first).toMatchObject({
      total_refund_count: '12',
      refund_count: '10',
      out_refund_no_0: nos[0],
      out_refund_no_9: nos[9],
    });
    const second = await refundQuery({ out_trade_no: order.outTradeNo, offset: '10' });
    expect(second).toMatchObject({ refund_count: '2', out_refund_no_0: nos[10], out_refund_no_1: nos[11] });
    expect(await refundQuery({ out_trade_no: order.outTradeNo, offset: '12' })).toMatchObject({
      err_code: 'PARAM_ERROR',
    });
  });
});

// --- the refund notify ------------------------------------------------------------------------------------

describe('the refund notify', () => {
  it('when a refund succeeds, then its notify decrypts with the API key to the refund’s fields, with no sign', async () => {
    const order = await paidOrder(30);
    const slot = newSlot();
    const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 30, refundFee: 12, slot });
    await waitFor(() => (inbox.get(slot) ?? []).length === 1);
    const body = inbox.get(slot)![0];
    const outer = parsePayXml(body);
    expect(Object.keys(outer).sort()).toEqual(['appid', 'mch_id', 'nonce_str', 'req_info', 'return_code']);
    const notify = decryptRefundNotify(body, ID.payKey);
    const entry = (await simRefund(res.outRefundNo)).body;
    expect(notify).toMatchObject({
      appid: ID.appid,
      mchId: ID.mchId,
      outRefundNo: res.outRefundNo,
      outTradeNo: order.outTradeNo,
      refundId: res.answer.refund_id,
      transactionId: order.transactionId,
      totalFee: 30,
      refundFee: 12,
      settlementRefundFee: 12,
      refundStatus: 'SUCCESS',
      successTime: entry.successTime,
      refundRecvAccout: '支付用户零钱',
      refundAccount: 'REFUND_SOURCE_RECHARGE_FUNDS',
      refundRequestSource: 'API',
    });
    expect(() => decryptRefundNotify(body, 'another-api-key-000000000000000')).toThrow();
    expect(entry).toMatchObject({ status: 'SUCCESS', notifyAttempts: 1 });
  });

  it('when the merchant answers FAIL twice, then WeChat retries until SUCCESS and stops there', async () => {
    const order = await paidOrder(10);
    const slot = newSlot();
    failures.set(slot, 2);
    const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 10, slot });
    await waitFor(() => (inbox.get(slot) ?? []).length === 3);
    await sleep(200); // the schedule's next step (180 ms scaled) would have come by now
    expect(inbox.get(slot)).toHaveLength(3);
    expect((await simRefund(res.outRefundNo)).body).toMatchObject({ notifyAttempts: 3 });
    for (const body of inbox.get(slot)!) expect(decryptRefundNotify(body, ID.payKey).outRefundNo).toBe(res.outRefundNo);
  });

  it('when REFUNDCLOSE is the outcome, then the notify says REFUNDCLOSE without success_time', async () => {
    const order = await paidOrder(10);
    const slot = newSlot();
    await postJson('/dev/refund-next', { outcome: 'REFUNDCLOSE' });
    await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 4, slot });
    await waitFor(() => (inbox.get(slot) ?? []).length === 1);
    const notify = decryptRefundNotify(inbox.get(slot)![0], ID.payKey);
    expect(notify.refundStatus).toBe('REFUNDCLOSE');
    expect(notify.successTime).toBeUndefined();
  });

  it('when deliver: false is armed, then the refund succeeds but its notify is lost; /notify re-sends it, again as a duplicate', async () => {
    const order = await paidOrder(10);
    const slot = newSlot();
    await postJson('/dev/refund-next', { deliver: false });
    const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 5, slot });
    expect(await settled(res.outRefundNo)).toMatchObject({ status: 'SUCCESS', notifyAttempts: 0 });
    await sleep(100);
    expect(inbox.get(slot)).toBeUndefined();

    const first = await postJson(`/dev/refunds/${res.outRefundNo}/notify`, {});
    expect(first.body).toMatchObject({ delivery: { status: 200, returnCode: 'SUCCESS' } });
    const second = await postJson(`/dev/refunds/${res.outRefundNo}/notify`, {});
    expect(second.body).toMatchObject({ delivery: { status: 200, returnCode: 'SUCCESS' } });
    const bodies = inbox.get(slot)!;
    expect(bodies).toHaveLength(2);
    expect(decryptRefundNotify(bodies[1], ID.payKey)).toMatchObject({
      outRefundNo: res.outRefundNo,
      refundStatus: 'SUCCESS',
    });
    expect((await simRefund(res.outRefundNo)).body).toMatchObject({ notifyAttempts: 2 });
  });

  it('when a refund is PROCESSING or unknown, then /notify refuses (409, 404)', async () => {
    const order = await paidOrder(10);
    await hold(async () => {
      const res = await refund({ outTradeNo: order.outTradeNo, totalFee: 10, refundFee: 1, slot: newSlot() });
      expect((await postJson(`/dev/refunds/${res.outRefundNo}/notify`, {})).status).toBe(409);
    });
    expect((await postJson(`/dev/refunds/${newNo('R')}/notify`, {})).status).toBe(404);
  });
});
