import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { SignType } from '../wechat/pay-sign';
import { buildPayXml } from '../wechat/pay-xml';
import { encryptRefundReqInfo } from '../wechat/refund-notify';
import type { DeliveryResult, NotifyDelivery } from './notify-delivery';
import { newNonce } from './pay-state';
import {
  type Fields,
  isFen,
  isHttpUrl,
  isObject,
  paramError,
  payAnswers,
  type PayWireIdentity,
  type Refusal,
  type WireFault,
  sendXml,
  xmlAnswer,
} from './pay-wire';
import { type RefundLedger, SETTLED_STATUSES, type SettledStatus, type SimRefund } from './refund-state';
import { sleepUnlessGone } from './sleep';

/** A fault armed for the next refund calls (/dev/refund-fault); its err_code e.g. SYSTEMERROR, BIZERR_NEED_RETRY, NOTENOUGH. */
export interface RefundFault extends WireFault {
  /** Answer after this many ms. */
  delayMs?: number;
  /** Take the refund anyway, then answer the fault: WeChat got it, the merchant never heard (retry the same out_refund_no). */
  accept?: boolean;
}

/** How the next refunds made settle (/dev/refund-next). */
interface RefundPlan {
  outcome: SettledStatus;
  deliver: boolean;
}

/** What WeChat writes as refund_recv_accout for a refund back to the payer's balance (captured notifies and queries). */
const RECV_ACCOUNT = '支付用户零钱';
const REFUND_ACCOUNT = 'REFUND_SOURCE_RECHARGE_FUNDS';
const QUERY_PAGE = 10;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

/**
 * The refund's life after /secapi/pay/refund accepted it: PROCESSING, then after `settleMs` its outcome (SUCCESS
 * unless armed otherwise), then the encrypted refund notify to its notify_url, retried on WeChat's schedule until the
 * merchant answers SUCCESS. One desk serves the HTTP and the HTTPS listener, so timers, faults and holds are shared.
 */
export class RefundDesk {
  private readonly timers = new Set<NodeJS.Timeout>();
  private faults: RefundFault[] = [];
  private plans: RefundPlan[] = [];
  private holding = false;

  constructor(
    private readonly opts: PayWireIdentity & { refunds: RefundLedger; delivery: NotifyDelivery; settleMs: number },
  ) {}

  armFaults(fault: RefundFault, count: number) {
    this.faults.push(...Array.from({ length: count }, () => fault));
  }

  takeFault(): RefundFault | undefined {
    return this.faults.shift();
  }

  armPlans(plan: RefundPlan, count: number) {
    this.plans.push(...Array.from({ length: count }, () => plan));
  }

  takePlan = (): RefundPlan => this.plans.shift() ?? { outcome: 'SUCCESS', deliver: true };

  get held(): boolean {
    return this.holding;
  }

  /** Holding keeps refunds PROCESSING past their settle time; letting go settles every held one now. */
  hold(on: boolean) {
    this.holding = on;
    if (!on) for (const refund of this.opts.refunds.held()) this.settle(refund, refund.outcome, refund.deliver);
  }

  started(refund: SimRefund) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (refund.status !== 'PROCESSING') return;
      if (this.holding) refund.held = true;
      else this.settle(refund, refund.outcome, refund.deliver);
    }, this.opts.settleMs);
    this.timers.add(timer);
  }

  /** Settles a PROCESSING refund and sends its notify (unless lost on purpose); false when it was settled already. */
  settle(refund: SimRefund, status: SettledStatus, deliver: boolean): boolean {
    if (!this.opts.refunds.settle(refund, status)) return false;
    if (deliver && refund.notifyUrl) void this.notify(refund);
    return true;
  }

  /** One more notify of the refund as it stands (a duplicate when it was sent before). Never rejects. */
  notify(refund: SimRefund, url = refund.notifyUrl): Promise<DeliveryResult> {
    const onAttempt = () => {
      refund.notifyAttempts++;
    };
    return this.opts.delivery.deliver(url!, refundNotifyXml(refund, this.opts), onAttempt);
  }

  close() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

export interface SimulatorRefundOptions extends PayWireIdentity {
  refunds: RefundLedger;
  desk: RefundDesk;
}

/**
 * /secapi/pay/refund (mutual TLS only) and /pay/refundquery. Register it in a scope whose bodies are read as text
 * (readBodiesAsText), next to the pay wire routes, on the HTTP and on the HTTPS listener alike: over plain HTTP, or
 * without a client certificate WeChat Pay's CA signed for this merchant, /secapi answers return_code FAIL.
 */
export function registerRefundWireRoutes(wire: FastifyInstance, opts: SimulatorRefundOptions) {
  const { refunds, desk } = opts;
  const answers = payAnswers(opts);

  wire.post('/secapi/pay/refund', async (req, reply) => {
    // Checked before anything is read: WeChat refuses the connection's certificate, not the request.
    const certProblem = clientCertificateProblem(req.raw.socket, opts.mchId);
    if (certProblem) return sendXml(reply, answers.returnFail(`证书校验错误 (CERT_ERROR): ${certProblem}`));
    const call = answers.read(req.body);
    if ('answer' in call) return sendXml(reply, call.answer);
    const { fields, signType } = call;

    const fault = desk.takeFault();
    if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
    // An armed fault answers instead of the refund, or (accept) after making it; a delay alone lets the refund through.
    const faulty = answers.faulty(fault, signType, '系统繁忙,请稍后再试');
    const made = faulty && !fault?.accept ? undefined : xmlAnswer(refund(fields, signType));
    const answer = faulty || made!;
    if (reply.raw.destroyed) return reply;
    return reply.code(answer.status).type(answer.type).send(answer.body);
  });

  function refund(fields: Record<string, string>, signType: SignType): string {
    const refused = answers.refusal(fields, signType, refundParamError);
    if (refused) return refused;
    const applied = refunds.apply(
      {
        outTradeNo: fields.out_trade_no || undefined,
        transactionId: fields.transaction_id || undefined,
        outRefundNo: fields.out_refund_no,
        totalFee: Number(fields.total_fee),
        refundFee: Number(fields.refund_fee),
        refundDesc: fields.refund_desc,
        notifyUrl: fields.notify_url || undefined,
        signType,
      },
      desk.takePlan,
    );
    if (!applied.ok) {
      const { refusal } = applied;
      if ('returnFail' in refusal) return answers.returnFail(refusal.returnFail);
      return answers.fail(signType, refusal.errCode, refusal.des);
    }
    const { refund: made, created } = applied;
    if (created) desk.started(made);
    return answers.ok(signType, {
      transaction_id: made.transactionId,
      out_trade_no: made.outTradeNo,
      out_refund_no: made.outRefundNo,
      refund_id: made.refundId,
      refund_channel: undefined,
      refund_fee: made.refundFee,
      total_fee: made.totalFee,
      cash_fee: made.totalFee,
      cash_refund_fee: made.refundFee,
      coupon_refund_fee: 0,
      coupon_refund_count: 0,
    });
  }

  wire.post('/pay/refundquery', async (req, reply) => {
    const call = answers.read(req.body);
    if ('answer' in call) return sendXml(reply, call.answer);
    const { fields, signType } = call;
    const refused = answers.refusal(fields, signType, refundQueryParamError);
    if (refused) return sendXml(reply, refused);
    const found = refunds.query({
      refundId: fields.refund_id || undefined,
      outRefundNo: fields.out_refund_no || undefined,
      transactionId: fields.transaction_id || undefined,
      outTradeNo: fields.out_trade_no || undefined,
    });
    if (!found) return sendXml(reply, answers.fail(signType, 'REFUNDNOTEXIST'));
    const offset = fields.offset ? Number(fields.offset) : 0;
    if (offset >= found.refunds.length && offset > 0) {
      return sendXml(reply, answers.fail(signType, 'PARAM_ERROR', '参数错误: offset is past total_refund_count'));
    }
    return sendXml(reply, answers.ok(signType, refundQueryFields(found.order.totalFee, found.refunds, offset)));
  });
}

function refundQueryFields(totalFee: number, all: SimRefund[], offset: number): Fields {
  const page = all.slice(offset, offset + QUERY_PAGE);
  const first = page[0];
  const fields: Fields = {
    transaction_id: first.transactionId,
    out_trade_no: first.outTradeNo,
    total_fee: totalFee,
    cash_fee: totalFee,
    refund_fee: page.reduce((sum, r) => sum + r.refundFee, 0),
    ...(all.length > QUERY_PAGE ? { total_refund_count: all.length } : {}),
    refund_count: page.length,
  };
  page.forEach((r, n) => {
    Object.assign(fields, {
      [`out_refund_no_${n}`]: r.outRefundNo,
      [`refund_id_${n}`]: r.refundId,
      [`refund_channel_${n}`]: 'ORIGINAL',
      [`refund_fee_${n}`]: r.refundFee,
      [`settlement_refund_fee_${n}`]: r.refundFee,
      [`refund_status_${n}`]: r.status,
      [`refund_account_${n}`]: REFUND_ACCOUNT,
      [`refund_recv_accout_${n}`]: RECV_ACCOUNT,
      [`refund_success_time_${n}`]: r.successTime,
    });
  });
  return fields;
}

/** WeChat's refund result notify: no sign, the result sealed in req_info under md5(API key). */
export function refundNotifyXml(refund: SimRefund, opts: PayWireIdentity): string {
  const reqInfo = encryptRefundReqInfo(
    {
      out_refund_no: refund.outRefundNo,
      out_trade_no: refund.outTradeNo,
      refund_account: REFUND_ACCOUNT,
      refund_fee: refund.refundFee,
      refund_id: refund.refundId,
      refund_recv_accout: RECV_ACCOUNT,
      refund_request_source: 'API',
      refund_status: refund.status,
      settlement_refund_fee: refund.refundFee,
      settlement_total_fee: refund.totalFee,
      success_time: refund.successTime,
      total_fee: refund.totalFee,
      transaction_id: refund.transactionId,
    },
    opts.payKey,
    opts.layout(),
  );
  return buildPayXml(
    { return_code: 'SUCCESS', appid: opts.appid, mch_id: opts.mchId, nonce_str: newNonce(), req_info: reqInfo },
    opts.layout(),
  );
}

/**
 * What is wrong with the connection's client certificate for /secapi, or undefined when it is this merchant's, signed by
 * the CA. The TLS server asks for a certificate but lets the handshake through without one, so this can be said in
 * WeChat's XML instead of as a dropped connection.
 */
export function clientCertificateProblem(socket: Socket, mchId: string): string | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (!tls.encrypted || typeof tls.getPeerCertificate !== 'function') {
    return "this API needs mutual TLS: call it over HTTPS with the merchant's API client certificate (apiclient_cert.pem); this request came over plain HTTP";
  }
  const cert = tls.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    return "no client certificate was presented: send the merchant's API certificate and key (apiclient_cert.pem, apiclient_key.pem)";
  }
  if (!tls.authorized) {
    return `the client certificate was not issued by WeChat Pay's CA (${String(tls.authorizationError ?? 'unverified')})`;
  }
  const cn = String(cert.subject?.CN ?? '');
  if (cn !== mchId) return `the client certificate is merchant ${cn}'s, not mch_id ${mchId}'s`;
  return undefined;
}

function refundParamError(f: Record<string, string>): Refusal | undefined {
  if (!f.out_trade_no && !f.transaction_id) return paramError('missing out_trade_no or transaction_id');
  if (!f.out_refund_no) return paramError('missing out_refund_no');
  if (!OUT_REFUND_NO.test(f.out_refund_no)) return paramError('out_refund_no must be 1-64 of [0-9A-Za-z_-|*@]');
  if (!isFen(f.total_fee)) return paramError('total_fee must be a positive integer number of fen');
  if (!isFen(f.refund_fee)) return paramError('refund_fee must be a positive integer number of fen');
  if (f.refund_fee_type && f.refund_fee_type !== 'CNY') return paramError('refund_fee_type must be CNY');
  if (f.notify_url && !isHttpUrl(f.notify_url)) return paramError('notify_url must be an http(s) URL');
  return undefined;
}

function refundQueryParamError(f: Record<string, string>): Refusal | undefined {
  if (!f.refund_id && !f.out_refund_no && !f.transaction_id && !f.out_trade_no) {
    return paramError('missing refund_id, out_refund_no, transaction_id or out_trade_no');
  }
  if (f.offset !== undefined && !/^(0|[1-9]\d{0,3})$/.test(f.offset)) return paramError('offset must be an integer');
  return undefined;
}

// --- /dev ---------------------------------------------------------------------------------------------

/** /dev/refund*: arm faults and outcomes, hold refunds, settle or re-notify one, and look at the ledger. */
export function registerRefundDevRoutes(app: FastifyInstance, opts: SimulatorRefundOptions) {
  const { refunds, desk } = opts;

  const FAULT_SHAPE =
    'expected { errCode?, errCodeDes?, returnFail?, garbage?, httpStatus?, delayMs?, accept?, count? (1-100) }';
  app.post<{ Body: Record<string, unknown> | undefined }>('/dev/refund-fault', async (req, reply) => {
    const body = req.body;
    if (!isObject(body)) return reply.code(400).send({ error: FAULT_SHAPE });
    const { count = 1, ...fault } = body;
    const bad =
      !isCount(count) ||
      (fault.errCode !== undefined && (typeof fault.errCode !== 'string' || !fault.errCode)) ||
      (fault.delayMs !== undefined && !isNonNegative(fault.delayMs)) ||
      (fault.httpStatus !== undefined && !(Number.isInteger(fault.httpStatus) && Number(fault.httpStatus) >= 400));
    if (bad) return reply.code(400).send({ error: FAULT_SHAPE });
    desk.armFaults(fault, count as number);
    return { ok: true };
  });

  const NEXT_SHAPE = `expected { outcome?: ${SETTLED_STATUSES.join(' | ')}, deliver?: boolean, count? (1-100) }`;
  app.post<{ Body: Record<string, unknown> | undefined }>('/dev/refund-next', async (req, reply) => {
    const { outcome = 'SUCCESS', deliver = true, count = 1 } = req.body ?? {};
    if (!SETTLED_STATUSES.includes(outcome as SettledStatus) || typeof deliver !== 'boolean' || !isCount(count)) {
      return reply.code(400).send({ error: NEXT_SHAPE });
    }
    desk.armPlans({ outcome: outcome as SettledStatus, deliver }, count as number);
    return { ok: true };
  });

  app.post<{ Body: { hold?: unknown } | undefined }>('/dev/refund-hold', async (req, reply) => {
    const hold = req.body?.hold;
    if (typeof hold !== 'boolean') return reply.code(400).send({ error: 'expected { hold: boolean }' });
    desk.hold(hold);
    return { ok: true, hold };
  });

  app.get<{ Params: { outRefundNo: string } }>('/dev/refunds/:outRefundNo', async (req, reply) => {
    const refund = refunds.find(req.params.outRefundNo);
    if (!refund) return reply.code(404).send({ error: 'no such refund at the simulated WeChat Pay' });
    return refundView(refund);
  });

  app.post<{ Params: { outRefundNo: string }; Body: { status?: unknown; deliver?: unknown } | undefined }>(
    '/dev/refunds/:outRefundNo/settle',
    async (req, reply) => {
      const refund = refunds.find(req.params.outRefundNo);
      if (!refund) return reply.code(404).send({ error: 'no such refund at the simulated WeChat Pay' });
      const { status = 'SUCCESS', deliver = true } = req.body ?? {};
      if (!SETTLED_STATUSES.includes(status as SettledStatus) || typeof deliver !== 'boolean') {
        return reply
          .code(400)
          .send({ error: `expected { status?: ${SETTLED_STATUSES.join(' | ')}, deliver?: boolean }` });
      }
      if (!desk.settle(refund, status as SettledStatus, deliver)) {
        return reply.code(409).send({ error: `the refund is ${refund.status} already` });
      }
      return refundView(refund);
    },
  );

  app.post<{ Params: { outRefundNo: string }; Body: { notifyUrl?: unknown } | undefined }>(
    '/dev/refunds/:outRefundNo/notify',
    async (req, reply) => {
      const refund = refunds.find(req.params.outRefundNo);
      if (!refund) return reply.code(404).send({ error: 'no such refund at the simulated WeChat Pay' });
      const url = req.body?.notifyUrl ?? refund.notifyUrl;
      if (!isHttpUrl(url)) return reply.code(400).send({ error: 'the refund has no notify_url: give { notifyUrl }' });
      if (refund.status === 'PROCESSING') return reply.code(409).send({ error: 'the refund is still PROCESSING' });
      return { delivery: await desk.notify(refund, url as string) };
    },
  );
}

function refundView(r: SimRefund) {
  return {
    outRefundNo: r.outRefundNo,
    refundId: r.refundId,
    outTradeNo: r.outTradeNo,
    transactionId: r.transactionId,
    totalFee: r.totalFee,
    refundFee: r.refundFee,
    ...(r.refundDesc ? { refundDesc: r.refundDesc } : {}),
    status: r.status,
    held: r.held,
    ...(r.successTime ? { successTime: r.successTime } : {}),
    ...(r.notifyUrl ? { notifyUrl: r.notifyUrl } : {}),
    notifyAttempts: r.notifyAttempts,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100;
const isNonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
