import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  encryptResource,
  parseAuthorization,
  SIGNTEST_PREFIX,
  signV3,
  v3Message,
  verifyAuthorization,
  verifyV3,
  wechatpaySignatureHeaders,
} from '../wechat/v3/crypto';
import type { DeliveryResult, NotifyDelivery, OutgoingNotify } from './notify-delivery';
import { DEV_TAMPERS, type DevTamper } from './pay.routes';
import type { PayState, SimOrder } from './pay-state';
import { isHttpUrl, isObject } from './pay-wire';
import { RefundDesk, type RefundFault } from './refund.routes';
import type { RefundLedger, SimRefund, SimRefundStatus } from './refund-state';
import { sleepUnlessGone } from './sleep';
import {
  NonceLog,
  V3_SKEW_SECONDS,
  type V3CertificateDesk,
  type V3PlatformCertificateInput,
  type V3PlatformKeys,
} from './v3-platform';

/** The merchant's side of v3, as the simulator knows it: never its private key. */
export interface SimulatorV3Options {
  /** PEM of the merchant API key's public half (what WeChat holds from the merchant's API certificate). */
  mchPublicKey: string;
  /** The merchant API certificate's serial: Authorization's serial_no. */
  mchSerial: string;
  /** 32 characters: notify resources are sealed with it. */
  apiV3Key: string;
  /**
   * Certificate mode: the platform certificates GET /v3/certificates serves (each with its private key), the first
   * of which signs answers and notifies under its serial. Without them, the public key signs (public-key mode).
   */
  certificates?: V3PlatformCertificateInput[];
}

/** What /dev/request-payment asks of v3 mode (pay.routes.ts): the RSA paySign check and the pay notify. */
export interface V3PayHooks {
  verifyPaySign(p: { appId: string; timeStamp: string; nonceStr: string; package: string; paySign: string }): boolean;
  payNotify(order: SimOrder, tamper?: DevTamper): OutgoingNotify;
}

/** A fault for the next answers' signatures (/dev/v3/answer-fault). */
export type AnswerFault = 'sign' | 'signtest';

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{1,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$/;
const RECV_ACCOUNT = '支付用户零钱';

/** The HTTP status WeChat gives each v3 error code (its API docs' error tables). */
const STATUS_OF: Record<string, number> = {
  PARAM_ERROR: 400,
  INVALID_REQUEST: 400,
  APPID_MCHID_NOT_MATCH: 400,
  MCH_NOT_EXISTS: 400,
  ORDER_CLOSED: 400,
  ORDERPAID: 400,
  SIGN_ERROR: 401,
  NO_AUTH: 403,
  NOT_ENOUGH: 403,
  OUT_TRADE_NO_USED: 403,
  RULE_LIMIT: 403,
  TRADE_ERROR: 403,
  USER_ACCOUNT_ABNORMAL: 403,
  ORDER_NOT_EXIST: 404,
  RESOURCE_NOT_EXISTS: 404,
  FREQUENCY_LIMITED: 429,
  SYSTEM_ERROR: 500,
  BANK_ERROR: 500,
};

const TRADE_STATE_DESC: Record<string, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '转入退款',
};

/** v2's ledger statuses as v3 spells them. */
const V3_REFUND_STATUS: Record<SimRefundStatus, string> = {
  PROCESSING: 'PROCESSING',
  SUCCESS: 'SUCCESS',
  REFUNDCLOSE: 'CLOSED',
  CHANGE: 'ABNORMAL',
};
const REFUND_EVENT: Record<string, { event: string; summary: string }> = {
  SUCCESS: { event: 'REFUND.SUCCESS', summary: '退款成功' },
  CLOSED: { event: 'REFUND.CLOSED', summary: '退款关闭' },
  ABNORMAL: { event: 'REFUND.ABNORMAL', summary: '退款异常' },
};

/** RFC 3339 in China time, as v3 writes every time: `2026-12-03T22:57:54+08:00`. */
export function rfc3339China(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}

/**
 * Everything v3 mode signs, seals and remembers, shared by the HTTP and HTTPS listeners: the platform key, the nonce
 * log of accepted requests, the armed answer faults, and the JSON shapes of transactions, refunds and notifies.
 */
export class V3Wire {
  readonly nonces = new NonceLog();
  private answerFaults: AnswerFault[] = [];

  constructor(
    readonly opts: {
      appid: string;
      mchId: string;
      v3: SimulatorV3Options;
      platform: V3PlatformKeys;
      certificates: V3CertificateDesk;
      refunds: RefundLedger;
    },
  ) {}

  armAnswerFaults(fault: AnswerFault, count: number) {
    this.answerFaults.push(...Array.from({ length: count }, () => fault));
  }

  /** Wechatpay-* headers over the exact body; a pending fault (or `fault`) makes the signature one that must fail. */
  signatureHeaders(body: string, fault?: AnswerFault | 'none'): Record<string, string> {
    const signer = this.opts.certificates.signing(this.opts.platform);
    const headers = wechatpaySignatureHeaders(body, signer.privateKey, signer.serial);
    // An answer takes the next armed fault; a notify ('none' or its own tamper) leaves them to the answers.
    const how = fault ?? this.answerFaults.shift();
    if (how === 'sign') {
      // Signed by the right key over another body: only a verifier that checks the exact bytes catches it.
      headers['wechatpay-signature'] = signV3(
        v3Message(headers['wechatpay-timestamp'], headers['wechatpay-nonce'], body + ' '),
        signer.privateKey,
      );
    } else if (how === 'signtest') {
      headers['wechatpay-signature'] = SIGNTEST_PREFIX + randomBytes(192).toString('base64');
    }
    return headers;
  }

  verifyPaySign: V3PayHooks['verifyPaySign'] = (p) =>
    verifyV3(v3Message(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, this.opts.v3.mchPublicKey);

  transaction(order: SimOrder): Record<string, unknown> {
    const refunded = order.tradeState === 'SUCCESS' && this.opts.refunds.hasSucceededRefund(order.outTradeNo);
    const tradeState = refunded ? 'REFUND' : order.tradeState;
    const base = {
      appid: order.v3?.appid ?? this.opts.appid,
      mchid: this.opts.mchId,
      out_trade_no: order.outTradeNo,
      trade_state: tradeState,
      trade_state_desc: TRADE_STATE_DESC[tradeState],
      payer: { openid: order.openid },
    };
    if (order.tradeState !== 'SUCCESS') return { ...base, amount: { total: order.totalFee, currency: 'CNY' } };
    return {
      ...base,
      transaction_id: order.transactionId,
      trade_type: 'JSAPI',
      bank_type: 'OTHERS',
      attach: '',
      success_time: rfc3339China(order.paidAt!),
      amount: { total: order.totalFee, payer_total: order.totalFee, currency: 'CNY', payer_currency: 'CNY' },
    };
  }

  refund(refund: SimRefund): Record<string, unknown> {
    return {
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      transaction_id: refund.transactionId,
      out_trade_no: refund.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: RECV_ACCOUNT,
      ...(refund.successTime ? { success_time: refund.successTime.replace(' ', 'T') + '+08:00' } : {}),
      create_time: rfc3339China(refund.createdAt),
      status: V3_REFUND_STATUS[refund.status],
      funds_account: 'AVAILABLE',
      amount: {
        total: refund.totalFee,
        refund: refund.refundFee,
        from: [],
        payer_total: refund.totalFee,
        payer_refund: refund.refundFee,
        settlement_refund: refund.refundFee,
        settlement_total: refund.totalFee,
        discount_refund: 0,
        currency: 'CNY',
        refund_fee: 0,
      },
      promotion_detail: [],
    };
  }

  payNotify: V3PayHooks['payNotify'] = (order, tamper) => {
    const resource = this.transaction(order);
    if (tamper === 'amount') {
      const amount = resource.amount as { total: number; payer_total: number };
      resource.amount = { ...amount, total: amount.total + 1, payer_total: amount.payer_total + 1 };
    }
    return this.notify('TRANSACTION.SUCCESS', '支付成功', resource, 'transaction', tamper);
  };

  /** The refund notify of a settled refund (what REFUND.* carries, not the query's shape). */
  refundNotify(refund: SimRefund, tamper?: DevTamper): OutgoingNotify {
    const status = V3_REFUND_STATUS[refund.status];
    const refundFee = refund.refundFee + (tamper === 'amount' ? 1 : 0);
    const resource = {
      mchid: this.opts.mchId,
      out_trade_no: refund.outTradeNo,
      transaction_id: refund.transactionId,
      out_refund_no: refund.outRefundNo,
      refund_id: refund.refundId,
      refund_status: status,
      ...(refund.successTime ? { success_time: refund.successTime.replace(' ', 'T') + '+08:00' } : {}),
      user_received_account: RECV_ACCOUNT,
      amount: { total: refund.totalFee, refund: refundFee, payer_total: refund.totalFee, payer_refund: refundFee },
    };
    const { event, summary } = REFUND_EVENT[status] ?? REFUND_EVENT.ABNORMAL;
    return this.notify(event, summary, resource, 'refund', tamper);
  }

  /**
   * A v3 notify: the resource sealed with AEAD_AES_256_GCM under the APIv3 key (or, tamper 'key', another one), the
   * body signed with the platform key at every attempt. Any 2xx stops the retries, as at WeChat.
   */
  private notify(
    eventType: string,
    summary: string,
    plain: Record<string, unknown>,
    aad: 'transaction' | 'refund',
    tamper?: DevTamper,
  ): OutgoingNotify {
    const key = tamper === 'key' ? randomBytes(16).toString('hex') : this.opts.v3.apiV3Key;
    const body = JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339China(Date.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: encryptResource(JSON.stringify(plain), key, aad, aad),
    });
    const fault = tamper === 'sign' || tamper === 'signtest' ? tamper : undefined;
    return {
      contentType: 'application/json',
      body,
      headers: () => this.signatureHeaders(body, fault ?? 'none'),
      accepted: (r) => r.status !== null && r.status >= 200 && r.status < 300,
    };
  }
}

/** The refund desk in v3 mode: a v3 refund's notify is v3's, a v2 refund's stays v2's. */
export class V3RefundDesk extends RefundDesk {
  constructor(
    opts: ConstructorParameters<typeof RefundDesk>[0],
    private readonly v3: V3Wire,
    private readonly delivery: NotifyDelivery,
  ) {
    super(opts);
  }

  override notify(refund: SimRefund, url = refund.notifyUrl, tamper?: DevTamper): Promise<DeliveryResult> {
    if (!refund.v3) return super.notify(refund, url);
    const onAttempt = () => {
      refund.notifyAttempts++;
    };
    return this.delivery.send(url!, this.v3.refundNotify(refund, tamper), onAttempt);
  }
}

interface V3RouteOptions {
  wire: V3Wire;
  state: PayState;
  refunds: RefundLedger;
  desk: RefundDesk;
  /** Where the simulator is mounted ('' alone): a request signed over its path without it verifies too. */
  prefix: string;
}

/**
 * api.mch.weixin.qq.com's v3 JSON API. Register it in a scope of its own: its body parser keeps the raw text (the
 * signature is over the exact bytes), and its hooks check every Authorization and sign every answer.
 */
export function registerV3Routes(scope: FastifyInstance, opts: V3RouteOptions) {
  const { wire, state, refunds, desk } = opts;
  const { appid, mchId, v3 } = wire.opts;
  /** Answers a gateway or a broken WeChat would give: not signed. */
  const unsigned = new WeakSet<FastifyRequest>();
  /** Answers armed to carry a bad signature (a jsapi fault's badSign). */
  const badlySigned = new WeakSet<FastifyRequest>();

  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(['application/json', '*'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  scope.addHook('onSend', async (req, reply, payload) => {
    reply.header('request-id', randomUUID());
    if (unsigned.has(req)) return payload;
    const body = typeof payload === 'string' ? payload : '';
    const headers = wire.signatureHeaders(body, badlySigned.has(req) ? 'sign' : undefined);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    return payload;
  });

  scope.addHook('preHandler', async (req, reply) => {
    const problem = authorizationProblem(req);
    if (problem) return fail(reply, 'SIGN_ERROR', problem);
  });

  scope.setErrorHandler(async (error: { statusCode?: number }, _req, reply) => {
    const status = error.statusCode ?? 500;
    return status < 500 ? fail(reply, 'PARAM_ERROR', '请求格式错误') : fail(reply, 'SYSTEM_ERROR', '系统错误');
  });

  function authorizationProblem(req: FastifyRequest): string | undefined {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) return 'Authorization is missing, or not WECHATPAY2-SHA256-RSA2048 with its five fields';
    if (auth.mchid !== mchId) return 'Authorization mchid is not this merchant';
    if (auth.serial_no !== v3.mchSerial) return 'Authorization serial_no is not the merchant API certificate';
    const at = /^\d{1,12}$/.test(auth.timestamp) ? Number(auth.timestamp) : NaN;
    if (!(Math.abs(Date.now() / 1000 - at) <= V3_SKEW_SECONDS))
      return 'Authorization timestamp is more than 5 minutes off';
    const body = typeof req.body === 'string' ? req.body : '';
    const signedOver = (url: string) => verifyAuthorization(auth, { method: req.method, url, body }, v3.mchPublicKey);
    const good =
      signedOver(req.url) ||
      (opts.prefix !== '' && req.url.startsWith(opts.prefix) && signedOver(req.url.slice(opts.prefix.length)));
    if (!good) return 'signature does not verify over METHOD, URL, timestamp, nonce and body';
    if (!wire.nonces.claim(`${auth.mchid}:${auth.nonce_str}`))
      return 'Authorization nonce_str was used already (replay)';
    return undefined;
  }

  scope.post('/v3/pay/transactions/jsapi', async (req, reply) => {
    const body = readJson(req.body);
    if (!body) return fail(reply, 'PARAM_ERROR', '请求体不是合法的JSON');
    const openid = isObject(body.payer) && typeof body.payer.openid === 'string' ? body.payer.openid : undefined;
    const fault = openid ? state.takeFault(openid) : undefined;
    if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
    if (reply.raw.destroyed) return reply;
    if (fault?.httpStatus) {
      unsigned.add(req);
      return reply.code(fault.httpStatus).type('text/html').send('<html><body>Bad Gateway</body></html>');
    }
    if (fault?.garbage) {
      unsigned.add(req);
      return reply.code(200).type('text/html').send('<html>upstream garbage, not JSON');
    }
    if (fault?.errCode) return fail(reply, fault.errCode, fault.errCodeDes ?? fault.errCode);
    if (fault?.badSign) badlySigned.add(req);

    const problem = jsapiProblem(body, openid);
    if (problem) return fail(reply, problem.code, problem.message);
    const amount = body.amount as { total: number };
    const outTradeNo = body.out_trade_no as string;
    if (state.find({ outTradeNo }) && !state.find({ outTradeNo })!.v3)
      return fail(reply, 'INVALID_REQUEST', '商户订单号重复');
    const placed = state.placeOrder({
      outTradeNo,
      openid: openid!,
      body: body.description as string,
      totalFee: amount.total,
      notifyUrl: body.notify_url as string,
      // Unused for a v3 order (its paySign is RSA); kept for the shared ledger's type.
      signType: 'MD5',
      v3: { appid, ...(typeof body.time_expire === 'string' ? { timeExpire: body.time_expire } : {}) },
    });
    if (!placed.ok) {
      if (placed.errCode === 'ORDERPAID') return fail(reply, 'ORDERPAID', '该订单已支付');
      if (placed.errCode === 'ORDERCLOSED') return fail(reply, 'ORDER_CLOSED', '订单已关闭');
      return fail(reply, 'INVALID_REQUEST', '商户订单号重复，且与原订单内容不一致');
    }
    return json(reply, 200, { prepay_id: placed.order.prepayId });
  });

  function jsapiProblem(
    body: Record<string, unknown>,
    openid: string | undefined,
  ): { code: string; message: string } | undefined {
    const param = (message: string) => v3Error('PARAM_ERROR', message);
    if (typeof body.appid !== 'string' || !body.appid)
      return param('输入源“/body/appid”映射到字段“公众号ID”必填性规则校验失败');
    if (typeof body.mchid !== 'string' || !body.mchid)
      return param('输入源“/body/mchid”映射到字段“直连商户号”必填性规则校验失败');
    if (body.mchid !== mchId || body.appid !== appid) return v3Error('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    if (typeof body.description !== 'string' || !body.description || body.description.length > 127)
      return param('description must be 1-127 characters');
    if (typeof body.out_trade_no !== 'string' || !OUT_TRADE_NO.test(body.out_trade_no))
      return param('out_trade_no must be 1-32 of [0-9A-Za-z_-|*]');
    if (!isHttpUrl(body.notify_url)) return param('notify_url must be an http(s) URL');
    if (!isObject(body.amount) || !isFen(body.amount.total))
      return param('amount.total must be a positive integer number of fen');
    if (body.amount.currency !== undefined && body.amount.currency !== 'CNY')
      return param('amount.currency must be CNY');
    if (!openid) return param('输入源“/body/payer/openid”映射到字段“用户标识”必填性规则校验失败');
    if (body.time_expire !== undefined && (typeof body.time_expire !== 'string' || !RFC3339.test(body.time_expire)))
      return param('time_expire must be RFC 3339 (yyyy-MM-DDTHH:mm:ss+08:00)');
    return undefined;
  }

  const queryOrder =
    (find: { outTradeNo?: string; transactionId?: string }) =>
    async (req: FastifyRequest<{ Querystring: { mchid?: string } }>, reply: FastifyReply) => {
      if (req.query.mchid !== mchId) return fail(reply, 'PARAM_ERROR', 'mchid must be this merchant');
      const order = state.find(find);
      if (!order) return fail(reply, 'ORDER_NOT_EXIST', '订单不存在');
      return json(reply, 200, wire.transaction(order));
    };
  scope.get<{ Params: { outTradeNo: string }; Querystring: { mchid?: string } }>(
    '/v3/pay/transactions/out-trade-no/:outTradeNo',
    async (req, reply) => queryOrder({ outTradeNo: req.params.outTradeNo })(req, reply),
  );
  scope.get<{ Params: { transactionId: string }; Querystring: { mchid?: string } }>(
    '/v3/pay/transactions/id/:transactionId',
    async (req, reply) => queryOrder({ transactionId: req.params.transactionId })(req, reply),
  );

  scope.post<{ Params: { outTradeNo: string } }>(
    '/v3/pay/transactions/out-trade-no/:outTradeNo/close',
    async (req, reply) => {
      const body = readJson(req.body);
      if (!body) return fail(reply, 'PARAM_ERROR', '请求体不是合法的JSON');
      if (body.mchid !== mchId) return fail(reply, 'PARAM_ERROR', 'mchid must be this merchant');
      const order = state.find({ outTradeNo: req.params.outTradeNo });
      if (!order) return fail(reply, 'ORDER_NOT_EXIST', '订单不存在');
      if (order.tradeState === 'SUCCESS') return fail(reply, 'ORDERPAID', '该订单已支付');
      state.markClosed(order);
      return reply.code(204).send();
    },
  );

  scope.post('/v3/refund/domestic/refunds', async (req, reply) => {
    const body = readJson(req.body);
    if (!body) return fail(reply, 'PARAM_ERROR', '请求体不是合法的JSON');
    const fault = desk.takeFault();
    if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
    if (reply.raw.destroyed) return reply;
    const faulty = fault && refundFaultAnswer(fault, req, reply);
    if (faulty && !fault?.accept) return faulty;
    const made = makeRefund(body);
    if (faulty) return faulty;
    if ('code' in made) return fail(reply, made.code, made.message);
    return json(reply, 200, wire.refund(made.refund));
  });

  function refundFaultAnswer(fault: RefundFault, req: FastifyRequest, reply: FastifyReply) {
    if (fault.httpStatus) {
      unsigned.add(req);
      return reply.code(fault.httpStatus).type('text/html').send('<html><body>Bad Gateway</body></html>');
    }
    if (fault.garbage) {
      unsigned.add(req);
      return reply.code(200).type('text/html').send('<html>upstream garbage, not JSON');
    }
    if (fault.errCode) return fail(reply, fault.errCode, fault.errCodeDes ?? fault.errCode);
    if (fault.returnFail) return fail(reply, 'SYSTEM_ERROR', '系统繁忙,请稍后再试');
    return undefined;
  }

  function makeRefund(body: Record<string, unknown>): { refund: SimRefund } | { code: string; message: string } {
    const param = (message: string) => v3Error('PARAM_ERROR', message);
    const outTradeNo = typeof body.out_trade_no === 'string' && body.out_trade_no ? body.out_trade_no : undefined;
    const transactionId =
      typeof body.transaction_id === 'string' && body.transaction_id ? body.transaction_id : undefined;
    if (!outTradeNo && !transactionId) return param('out_trade_no or transaction_id is required');
    if (typeof body.out_refund_no !== 'string' || !OUT_REFUND_NO.test(body.out_refund_no))
      return param('out_refund_no must be 1-64 of [0-9A-Za-z_-|*@]');
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 80))
      return param('reason must be at most 80 characters');
    if (body.notify_url !== undefined && !isHttpUrl(body.notify_url)) return param('notify_url must be an http(s) URL');
    const amount = body.amount;
    if (!isObject(amount) || !isFen(amount.refund) || !isFen(amount.total))
      return param('amount.refund and amount.total must be positive integer numbers of fen');
    if (amount.currency !== 'CNY') return param('amount.currency must be CNY');
    const applied = refunds.apply(
      {
        outTradeNo,
        transactionId,
        outRefundNo: body.out_refund_no,
        totalFee: amount.total,
        refundFee: amount.refund,
        refundDesc: body.reason,
        notifyUrl: body.notify_url as string | undefined,
        signType: 'MD5',
        v3: true,
      },
      desk.takePlan,
    );
    if (applied.ok) {
      if (applied.created) desk.started(applied.refund);
      return { refund: applied.refund };
    }
    const { refusal } = applied;
    if ('returnFail' in refusal) return param('退款金额不能大于订单金额');
    switch (refusal.errCode) {
      case 'ORDERNOTEXIST':
      case 'INVALID_TRANSACTIONID':
        return v3Error('RESOURCE_NOT_EXISTS', '订单不存在');
      case 'TRADE_OVERDUE':
        return v3Error('INVALID_REQUEST', '订单已经超过退款期限');
      case 'REFUND_FEE_MISMATCH':
        return v3Error('INVALID_REQUEST', '订单金额或退款金额与之前请求不一致，请核实后再试');
      case 'ERROR':
        return v3Error('INVALID_REQUEST', refusal.des ?? '订单已全额退款');
      default:
        return v3Error('INVALID_REQUEST', refusal.des ?? '请求参数符合参数格式，但不符合业务规则');
    }
  }

  scope.get<{ Params: { outRefundNo: string } }>('/v3/refund/domestic/refunds/:outRefundNo', async (req, reply) => {
    const refund = refunds.find(req.params.outRefundNo);
    if (!refund) return fail(reply, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return json(reply, 200, wire.refund(refund));
  });

  // Certificate mode's bootstrap: each certificate sealed with the APIv3 key (AAD "certificate"), the answer signed
  // like any other, so the merchant verifies it with the certificate the answer's Wechatpay-Serial names.
  scope.get('/v3/certificates', async (_req, reply) => {
    const desk = wire.opts.certificates;
    desk.downloads++;
    if (desk.fault === 'down') return fail(reply, 'SYSTEM_ERROR', '系统错误');
    const sealKey = desk.fault === 'key' ? randomBytes(16).toString('hex') : v3.apiV3Key;
    return json(reply, 200, {
      data: desk.certificates.map((c) => ({
        serial_no: c.serial,
        effective_time: rfc3339China(c.notBefore),
        expire_time: rfc3339China(c.notAfter),
        encrypt_certificate: encryptResource(c.certificatePem, sealKey, 'certificate', 'certificate'),
      })),
    });
  });
}

/** /dev/v3/*: the platform's public half, answer signature faults, and one more (possibly tampered) notify. */
export function registerV3DevRoutes(
  app: FastifyInstance,
  opts: { wire: V3Wire; state: PayState; refunds: RefundLedger; desk: V3RefundDesk; delivery: NotifyDelivery },
) {
  const { wire, state, refunds, desk, delivery } = opts;

  app.get('/dev/v3/platform', async () => ({
    publicKeyPem: wire.opts.platform.publicKeyPem,
    publicKeyId: wire.opts.platform.publicKeyId,
  }));

  // Certificate mode at run time: how often /v3/certificates was fetched, and a new set, signer or fault.
  app.get('/dev/v3/certificates', async () => {
    const desk = wire.opts.certificates;
    return { downloads: desk.downloads, serials: desk.certificates.map((c) => c.serial), signer: desk.signer ?? null };
  });
  app.post<{ Body: { certificates?: unknown; signer?: unknown; fault?: unknown } | undefined }>(
    '/dev/v3/certificates',
    async (req, reply) => {
      const { certificates, signer, fault } = req.body ?? {};
      const shape =
        "expected { certificates?: [{ certificatePem, privateKeyPem }], signer?: a serial | 'public-key', fault?: 'key' | 'down' | null }";
      if (fault !== undefined && fault !== null && fault !== 'key' && fault !== 'down')
        return reply.code(400).send({ error: shape });
      if (signer !== undefined && typeof signer !== 'string') return reply.code(400).send({ error: shape });
      const desk = wire.opts.certificates;
      try {
        if (certificates !== undefined) {
          if (!Array.isArray(certificates)) return reply.code(400).send({ error: shape });
          desk.replace(certificates as V3PlatformCertificateInput[], signer);
        } else if (signer !== undefined) {
          desk.replace(
            desk.certificates.map((c) => ({ certificatePem: c.certificatePem, privateKeyPem: pemOf(c.privateKey) })),
            signer,
          );
        }
      } catch (err) {
        return reply.code(400).send({ error: `${shape}: ${(err as Error).message}` });
      }
      if (fault !== undefined) desk.fault = fault ?? undefined;
      return { serials: desk.certificates.map((c) => c.serial), signer: desk.signer ?? null };
    },
  );

  app.post<{ Body: { fault?: unknown; count?: unknown } | undefined }>('/dev/v3/answer-fault', async (req, reply) => {
    const { fault, count = 1 } = req.body ?? {};
    if ((fault !== 'sign' && fault !== 'signtest') || !isCount(count)) {
      return reply.code(400).send({ error: "expected { fault: 'sign' | 'signtest', count? (1-100) }" });
    }
    wire.armAnswerFaults(fault, count);
    return { ok: true };
  });

  const NOTIFY_SHAPE = `expected { tamper?: ${DEV_TAMPERS.join(' | ')}, notifyUrl?: an http(s) URL }`;
  const readNotify = (body: Record<string, unknown> | undefined) => {
    const { tamper, notifyUrl } = body ?? {};
    if (tamper !== undefined && !DEV_TAMPERS.includes(tamper as DevTamper)) return undefined;
    if (notifyUrl !== undefined && !isHttpUrl(notifyUrl)) return undefined;
    return { tamper: tamper as DevTamper | undefined, notifyUrl: notifyUrl as string | undefined };
  };

  app.post<{ Params: { outTradeNo: string }; Body: Record<string, unknown> | undefined }>(
    '/dev/v3/orders/:outTradeNo/notify',
    async (req, reply) => {
      const order = state.find({ outTradeNo: req.params.outTradeNo });
      if (!order?.v3 || order.tradeState !== 'SUCCESS')
        return reply.code(404).send({ error: 'no such paid v3 order at the simulated WeChat Pay' });
      const dev = readNotify(req.body);
      if (!dev) return reply.code(400).send({ error: NOTIFY_SHAPE });
      const onAttempt = () => {
        order.notifyAttempts++;
      };
      return {
        delivery: await delivery.send(dev.notifyUrl ?? order.notifyUrl, wire.payNotify(order, dev.tamper), onAttempt),
      };
    },
  );

  app.post<{ Params: { outRefundNo: string }; Body: Record<string, unknown> | undefined }>(
    '/dev/v3/refunds/:outRefundNo/notify',
    async (req, reply) => {
      const refund = refunds.find(req.params.outRefundNo);
      if (!refund?.v3) return reply.code(404).send({ error: 'no such v3 refund at the simulated WeChat Pay' });
      const dev = readNotify(req.body);
      if (!dev) return reply.code(400).send({ error: NOTIFY_SHAPE });
      const url = dev.notifyUrl ?? refund.notifyUrl;
      if (!url) return reply.code(400).send({ error: 'the refund has no notify_url: give { notifyUrl }' });
      if (refund.status === 'PROCESSING') return reply.code(409).send({ error: 'the refund is still PROCESSING' });
      return { delivery: await desk.notify(refund, url, dev.tamper) };
    },
  );
}

const pemOf = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A v3 error body, { code, message }, as WeChat answers them. */
const v3Error = (code: string, message: string) => ({ code, message });

function fail(reply: FastifyReply, code: string, message: string) {
  return json(reply, STATUS_OF[code] ?? 400, { code, message });
}

function json(reply: FastifyReply, status: number, body: unknown) {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

function readJson(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const isFen = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100;
