import type { FastifyInstance } from 'fastify';
import { paySign, SIGN_TYPES, type SignType, verifyPaySign } from '../wechat/pay-sign';
import { buildPayXml } from '../wechat/pay-xml';
import type { DeliveryResult, NotifyDelivery } from './notify-delivery';
import { sleepUnlessGone } from './sleep';
import { newNonce, type PayState, type SimOrder } from './pay-state';
import {
  type Fields,
  isHttpUrl,
  isObject,
  paramError,
  payAnswers,
  type PayWireIdentity,
  type Refusal,
  sendXml,
  xmlAnswer,
} from './pay-wire';
import type { RefundLedger } from './refund-state';
import type { V3PayHooks } from './v3.routes';

export interface SimulatorPayOptions extends PayWireIdentity {
  state: PayState;
  /** The refunds of the same ledger: orderquery shows REFUND once one succeeded. */
  refunds: RefundLedger;
  delivery: NotifyDelivery;
  /** Set in v3 mode: how a v3 order's RSA paySign is checked and its notify built. */
  v3?: V3PayHooks;
}

/** orderquery's trade_state: REFUND is a paid order with a successful refund (PayState keeps it SUCCESS). */
type QueriedTradeState = SimOrder['tradeState'] | 'REFUND';

const TRADE_STATE_DESC: Record<QueriedTradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  CLOSED: '订单已关闭',
  REFUND: '转入退款',
};

const UNIFIEDORDER_REQUIRED = [
  'body',
  'out_trade_no',
  'total_fee',
  'spbill_create_ip',
  'notify_url',
  'trade_type',
  'openid',
] as const;
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{1,32}$/;

/**
 * /pay/unifiedorder, orderquery and closeorder: WeChat Pay v2 as api.mch.weixin.qq.com serves it. Register it in a
 * scope whose bodies are read as text (readBodiesAsText): the plugin serves it over HTTP, and over HTTPS when asked.
 */
export function registerPayWireRoutes(wire: FastifyInstance, opts: SimulatorPayOptions) {
  const { state } = opts;
  const answers = payAnswers(opts);

  wire.post('/pay/unifiedorder', async (req, reply) => {
    const call = answers.read(req.body);
    if ('answer' in call) return sendXml(reply, call.answer);
    const { fields, signType } = call;

    const fault = fields.openid ? state.takeFault(fields.openid) : undefined;
    if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
    const answer =
      answers.faulty(fault, signType, '参数格式校验错误') ??
      xmlAnswer(unifiedOrder(fields, signType, fault?.badSign ?? false));
    if (reply.raw.destroyed) return reply;
    return reply.code(answer.status).type(answer.type).send(answer.body);
  });

  /** Places the order even when the caller has since hung up: WeChat got the request, so the order exists. */
  function unifiedOrder(fields: Record<string, string>, signType: SignType, badSign: boolean): string {
    const refused = answers.refusal(fields, signType, unifiedOrderParamError);
    if (refused) return refused;
    const placed = state.placeOrder({
      outTradeNo: fields.out_trade_no,
      openid: fields.openid,
      body: fields.body,
      totalFee: Number(fields.total_fee),
      notifyUrl: fields.notify_url,
      signType,
    });
    if (!placed.ok) return answers.fail(signType, placed.errCode);
    return answers.ok(signType, { prepay_id: placed.order.prepayId, trade_type: 'JSAPI' }, badSign);
  }

  wire.post('/pay/orderquery', async (req, reply) => {
    const call = answers.read(req.body);
    if ('answer' in call) return sendXml(reply, call.answer);
    const { fields, signType } = call;
    const refused = answers.refusal(fields, signType, queryParamError);
    if (refused) return sendXml(reply, refused);
    const order = state.find({ outTradeNo: fields.out_trade_no, transactionId: fields.transaction_id });
    if (!order) return sendXml(reply, answers.fail(signType, 'ORDERNOTEXIST'));
    return sendXml(reply, answers.ok(signType, orderQueryFields(order, opts.refunds)));
  });

  wire.post('/pay/closeorder', async (req, reply) => {
    const call = answers.read(req.body);
    if ('answer' in call) return sendXml(reply, call.answer);
    const { fields, signType } = call;
    const refused = answers.refusal(fields, signType, (f) =>
      f.out_trade_no ? undefined : paramError('missing out_trade_no'),
    );
    if (refused) return sendXml(reply, refused);
    const order = state.find({ outTradeNo: fields.out_trade_no });
    if (!order) return sendXml(reply, answers.fail(signType, 'ORDERNOTEXIST'));
    if (order.tradeState === 'SUCCESS') return sendXml(reply, answers.fail(signType, 'ORDERPAID'));
    state.markClosed(order);
    return sendXml(reply, answers.ok(signType, { result_msg: 'OK' }));
  });
}

/** /dev/*: JSON endpoints that play the phone and let tests look at what WeChat Pay holds. */
export function registerPayDevRoutes(app: FastifyInstance, opts: SimulatorPayOptions) {
  const { state, delivery } = opts;

  const PAY_FAULT_SHAPE =
    'expected { openid: string, fault: { delayMs?, errCode?, errCodeDes?, returnFail?, garbage?, httpStatus?, badSign? } }';
  app.post<{ Body: { openid?: unknown; fault?: unknown } | undefined }>('/dev/pay-fault', async (req, reply) => {
    const { openid, fault } = req.body ?? {};
    if (typeof openid !== 'string' || !openid || !isObject(fault)) {
      return reply.code(400).send({ error: PAY_FAULT_SHAPE });
    }
    state.armFault(openid, fault);
    return { ok: true };
  });

  /** Plays wx.requestPayment: checks what the phone would, pays, then sends WeChat's notify. */
  app.post<{ Body: Record<string, unknown> | undefined }>('/dev/request-payment', async (req, reply) => {
    const body = req.body ?? {};
    const dev = readDevPaymentOptions(body);
    if (typeof dev === 'string') return reply.code(400).send({ error: dev });
    const checked = checkRequestPayment(body, opts);
    if (typeof checked === 'string') return reply.code(400).send({ errMsg: `requestPayment:fail ${checked}` });
    // The user closed the pay sheet: nothing is paid and WeChat sends nothing.
    if (dev.cancel) return { errMsg: 'requestPayment:fail cancel' };

    const order = checked;
    if (!order.v3 && dev.tamper && dev.tamper !== 'sign' && dev.tamper !== 'amount') {
      return reply.code(400).send({ error: `tamper '${dev.tamper}' is for v3 orders only` });
    }
    state.markPaid(order);
    // Copies go out concurrently, as WeChat's do; deliver() never rejects, so an unawaited round is safe.
    const round = Promise.all(dev.deliver ? sendNotifies(order, dev) : []);
    const deliveries: DeliveryResult[] = dev.wait ? await round : [];
    return {
      errMsg: 'requestPayment:ok',
      transactionId: order.transactionId,
      outTradeNo: order.outTradeNo,
      deliveries,
    };
  });

  app.get<{ Params: { outTradeNo: string } }>('/dev/orders/:outTradeNo', async (req, reply) => {
    const order = state.find({ outTradeNo: req.params.outTradeNo });
    if (!order) return reply.code(404).send({ error: 'no such order at the simulated WeChat Pay' });
    const { outTradeNo, totalFee, transactionId, notifyUrl, notifyAttempts } = order;
    return {
      outTradeNo,
      tradeState: queriedTradeState(order, opts.refunds),
      totalFee,
      ...(transactionId ? { transactionId } : {}),
      refundedFee: opts.refunds.refundedFee(outTradeNo),
      notifyUrl,
      notifyAttempts,
    };
  });

  /** Moves a paid order's payment back in time, so a refund past WeChat's one-year window can be tried. */
  app.post<{ Params: { outTradeNo: string }; Body: { days?: unknown } | undefined }>(
    '/dev/orders/:outTradeNo/backdate',
    async (req, reply) => {
      const order = state.find({ outTradeNo: req.params.outTradeNo });
      if (!order?.paidAt) return reply.code(404).send({ error: 'no such paid order at the simulated WeChat Pay' });
      const days = req.body?.days;
      if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) {
        return reply.code(400).send({ error: 'expected { days: a positive number }' });
      }
      order.paidAt -= days * 24 * 3600_000;
      return { ok: true, paidAt: new Date(order.paidAt).toISOString() };
    },
  );

  function sendNotifies(order: SimOrder, dev: DevPaymentOptions): Promise<DeliveryResult>[] {
    const urls = dev.notifyUrls ?? [order.notifyUrl];
    const onAttempt = () => {
      order.notifyAttempts++;
    };
    if (order.v3 && opts.v3) {
      const message = opts.v3.payNotify(order, dev.tamper);
      return Array.from({ length: dev.duplicates }, (_, i) => delivery.send(urls[i % urls.length], message, onAttempt));
    }
    const xml = notifyXml(order, dev.tamper === 'amount' || dev.tamper === 'sign' ? dev.tamper : undefined, opts);
    return Array.from({ length: dev.duplicates }, (_, i) => delivery.deliver(urls[i % urls.length], xml, onAttempt));
  }
}

function queriedTradeState(order: SimOrder, refunds: RefundLedger): QueriedTradeState {
  return order.tradeState === 'SUCCESS' && refunds.hasSucceededRefund(order.outTradeNo) ? 'REFUND' : order.tradeState;
}

function orderQueryFields(order: SimOrder, refunds: RefundLedger): Fields {
  const tradeState = queriedTradeState(order, refunds);
  const base = {
    trade_state: tradeState,
    trade_state_desc: TRADE_STATE_DESC[tradeState],
    out_trade_no: order.outTradeNo,
    total_fee: order.totalFee,
    openid: order.openid,
  };
  if (order.tradeState !== 'SUCCESS') return base;
  return {
    ...base,
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    fee_type: 'CNY',
    cash_fee: order.totalFee,
    transaction_id: order.transactionId,
    time_end: order.timeEnd,
  };
}

/** WeChat's pay-result notify. `amount` tampering is still signed with the real key: only the amount check catches it. */
function notifyXml(order: SimOrder, tamper: 'sign' | 'amount' | undefined, opts: SimulatorPayOptions): string {
  const fee = tamper === 'amount' ? order.totalFee + 1 : order.totalFee;
  const fields: Fields = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: opts.appid,
    mch_id: opts.mchId,
    nonce_str: newNonce(),
    result_code: 'SUCCESS',
    openid: order.openid,
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    total_fee: fee,
    fee_type: 'CNY',
    cash_fee: fee,
    transaction_id: order.transactionId,
    out_trade_no: order.outTradeNo,
    time_end: order.timeEnd,
    sign_type: order.signType === 'HMAC-SHA256' ? order.signType : undefined,
  };
  const sign = paySign(fields, tamper === 'sign' ? opts.payKey + 'x' : opts.payKey, order.signType);
  return buildPayXml({ ...fields, sign }, opts.layout());
}

// --- request checks -----------------------------------------------------------------------------------

function unifiedOrderParamError(fields: Record<string, string>): Refusal | undefined {
  const missing = UNIFIEDORDER_REQUIRED.find((k) => !fields[k]);
  if (missing) return paramError(`missing ${missing}`);
  if (fields.trade_type !== 'JSAPI') return paramError('trade_type must be JSAPI');
  if (!/^[1-9]\d*$/.test(fields.total_fee) || !Number.isSafeInteger(Number(fields.total_fee))) {
    return paramError('total_fee must be a positive integer number of fen');
  }
  if (!OUT_TRADE_NO.test(fields.out_trade_no)) return paramError('out_trade_no must be 1-32 of [0-9A-Za-z_-|*]');
  if (!isHttpUrl(fields.notify_url)) return paramError('notify_url must be an http(s) URL');
  return undefined;
}

function queryParamError(fields: Record<string, string>): Refusal | undefined {
  return fields.out_trade_no || fields.transaction_id
    ? undefined
    : paramError('missing out_trade_no or transaction_id');
}

/** What the WeChat client checks before it shows the pay sheet; a string is the reason it refuses. */
function checkRequestPayment(body: Record<string, unknown>, opts: SimulatorPayOptions): SimOrder | string {
  // wx.requestPayment takes no appId: the mini-program runtime signs with its own, so createPayment's payParams carry
  // none either and the simulator fills in its AppID. One given must be that AppID.
  if (body.appId !== undefined && body.appId !== opts.appid) return 'invalid appId';
  const names = ['timeStamp', 'nonceStr', 'package', 'signType', 'paySign'] as const;
  for (const name of names) {
    if (typeof body[name] !== 'string' || !body[name]) return `parameter error: ${name} should be a non-empty String`;
  }
  const p = { ...(body as Record<(typeof names)[number], string>), appId: opts.appid };
  if (!/^\d{1,10}$/.test(p.timeStamp)) return 'parameter error: timeStamp should be a String of seconds';
  const rsa = p.signType === 'RSA' && opts.v3 !== undefined;
  if (!rsa && !SIGN_TYPES.includes(p.signType as SignType)) return 'invalid signType';
  const prepayId = /^prepay_id=(.+)$/.exec(p.package)?.[1];
  const order = prepayId ? opts.state.byPrepayId(prepayId) : undefined;
  if (!order) return 'invalid package: unknown or expired prepay_id';
  // A v3 order is paid with signType RSA, signed by the merchant's API key; a v2 order never is.
  if (rsa || order.v3) {
    if (!rsa || !order.v3) return 'signType differs from the order: RSA goes with v3 orders only';
    if (!opts.v3!.verifyPaySign(p)) return 'invalid paySign';
    return order.tradeState === 'SUCCESS'
      ? 'order already paid'
      : order.tradeState === 'CLOSED'
        ? 'order closed'
        : order;
  }
  // WeChat requires the pay sign to use the sign type of the unifiedorder.
  if (p.signType !== order.signType) return 'signType differs from the unifiedorder sign_type';
  const signed = {
    appId: p.appId,
    timeStamp: p.timeStamp,
    nonceStr: p.nonceStr,
    package: p.package,
    signType: p.signType,
    sign: p.paySign,
  };
  if (!verifyPaySign(signed, opts.payKey, p.signType)) return 'invalid paySign';
  if (order.tradeState === 'SUCCESS') return 'order already paid';
  if (order.tradeState === 'CLOSED') return 'order closed';
  return order;
}

export const DEV_TAMPERS = ['sign', 'amount', 'signtest', 'key'] as const;
export type DevTamper = (typeof DEV_TAMPERS)[number];

interface DevPaymentOptions {
  cancel: boolean;
  deliver: boolean;
  wait: boolean;
  /** sign and amount for every order; signtest (a WeChat probe signature) and key (another APIv3 key) for v3 ones. */
  tamper?: DevTamper;
  duplicates: number;
  notifyUrls?: string[];
}

/** The simulator's own knobs on /dev/request-payment; a string is what is wrong with them. */
function readDevPaymentOptions(body: Record<string, unknown>): DevPaymentOptions | string {
  const { cancel = false, deliver = true, wait = true, tamper, duplicates = 1, notifyUrls } = body;
  if (typeof cancel !== 'boolean' || typeof deliver !== 'boolean' || typeof wait !== 'boolean')
    return 'cancel, deliver and wait must be booleans';
  if (tamper !== undefined && !DEV_TAMPERS.includes(tamper as DevTamper))
    return "tamper must be 'sign' or 'amount' (or, for a v3 order, 'signtest' or 'key')";
  if (typeof duplicates !== 'number' || !Number.isInteger(duplicates) || duplicates < 1 || duplicates > 100)
    return 'duplicates must be an integer from 1 to 100';
  if (
    notifyUrls !== undefined &&
    (!Array.isArray(notifyUrls) || notifyUrls.length === 0 || !notifyUrls.every(isHttpUrl))
  ) {
    return 'notifyUrls must be a non-empty array of http(s) URLs';
  }
  return {
    cancel,
    deliver,
    wait,
    tamper: tamper as DevTamper | undefined,
    duplicates,
    notifyUrls: notifyUrls as string[] | undefined,
  };
}
