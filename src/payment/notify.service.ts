import type { EntityManager } from '@mikro-orm/core';
import type { Services } from '../core/context';
import { NOTIFY_SUCCESS, notifyFail, parsePayXml, PayXmlError } from '../wechat/pay-xml';
import { PaymentNotification } from './payment-notification.entity';
import { sqlOf } from '../core/db';
import { settlePaid } from './settle';

/** The raw notify as it came off the wire. */
export interface RawNotify {
  text: string;
  bytes: number;
  truncated: boolean;
}

export interface NotifyOutcome {
  httpStatus: number;
  body: string;
  verdict: string;
}

/** The cap on a notify body; WeChat's are about 1 KB. */
export const NOTIFY_BODY_CAP = 64 * 1024;

/**
 * What is kept of a body that never proved it came from WeChat (unparseable, unsigned, too large): enough to
 * see what it was, without letting anonymous POSTs fill the disk 64 KB at a time.
 */
export const UNVERIFIED_BODY_KEEP = 4 * 1024;
const UNVERIFIED = new Set(['MALFORMED', 'DOCTYPE_REFUSED', 'BODY_TOO_LARGE', 'BAD_SIGN']);

const fail = (httpStatus: number, verdict: string, message: string): NotifyOutcome => ({ httpStatus, verdict, body: notifyFail(message) });
const ok = (verdict: string): NotifyOutcome => ({ httpStatus: 200, verdict, body: NOTIFY_SUCCESS });

/**
 * WeChat's pay-result notify, in the order that keeps money safe: keep the raw body, parse it strictly, verify the
 * sign, check it is a success for our merchant, match the amount, then make the one PENDING → PAID transition.
 * WeChat retries until it sees SUCCESS, so a repeat of a processed notify is answered SUCCESS and changes nothing.
 */
export async function handleNotify(services: Services, em: EntityManager, raw: RawNotify): Promise<NotifyOutcome> {
  // Fixed statements rather than the unit of work: this is the hot path of a notify burst.
  const sql = sqlOf(em);
  const { insertId: id } = await sql.run(INSERT_NOTIFICATION, [new Date(), raw.text, raw.bytes]);

  const found: NotifyFindings = {};
  let outcome: NotifyOutcome;
  try {
    outcome = await judge(services, em, raw, found);
  } catch (err) {
    // The route answers 500 and WeChat retries; the row says why instead of staying RECEIVED.
    await sql
      .update(PaymentNotification, id, { ...found, verdict: 'ERROR', detail: String((err as Error).message).slice(0, 255), processedAt: new Date() })
      .catch(() => undefined);
    services.metrics.notifies.inc({ verdict: 'ERROR' });
    throw err;
  }
  const rawBody = UNVERIFIED.has(outcome.verdict) && raw.text.length > UNVERIFIED_BODY_KEEP ? raw.text.slice(0, UNVERIFIED_BODY_KEEP) : undefined;
  await sql.update(PaymentNotification, id, { ...found, verdict: outcome.verdict, processedAt: new Date(), rawBody });
  services.metrics.notifies.inc({ verdict: outcome.verdict });
  if (outcome.verdict === 'PAID') services.metrics.orderTransitions.inc({ to: 'PAID', via: 'notify' });
  const log = outcome.verdict === 'PAID' || outcome.verdict === 'DUPLICATE' ? 'info' : 'warn';
  services.logger[log]({ notifyId: id, outTradeNo: found.outTradeNo, verdict: outcome.verdict }, 'pay notify');
  return outcome;
}

/** What judging learns about a notify, stored on its row with the verdict. */
type NotifyFindings = Partial<Pick<PaymentNotification, 'outTradeNo' | 'transactionId' | 'detail'>>;

const INSERT_NOTIFICATION = "insert into `payment_notifications` (`received_at`, `raw_body`, `body_bytes`, `verdict`) values (?, ?, ?, 'RECEIVED')";

async function judge(services: Services, em: EntityManager, raw: RawNotify, record: NotifyFindings): Promise<NotifyOutcome> {
  const pay = services.wechatPay;
  if (!pay) return fail(503, 'PAYMENTS_DISABLED', 'payments are not configured');
  if (raw.truncated) return fail(413, 'BODY_TOO_LARGE', 'body too large');

  let fields: Record<string, string>;
  try {
    fields = parsePayXml(raw.text);
  } catch (err) {
    if (!(err instanceof PayXmlError)) throw err;
    record.detail = err.message.slice(0, 255);
    return fail(400, err.reason === 'DOCTYPE' ? 'DOCTYPE_REFUSED' : 'MALFORMED', 'malformed XML');
  }
  // Cut to the columns (32, as in orders): a longer one from a forged body is kept as evidence, and matches no order.
  record.outTradeNo = fields.out_trade_no?.slice(0, 32) || null;
  record.transactionId = fields.transaction_id?.slice(0, 32) || null;

  if (!pay.verify(fields)) return fail(200, 'BAD_SIGN', 'bad sign');
  if (fields.return_code !== 'SUCCESS' || fields.result_code !== 'SUCCESS') {
    record.detail = `${fields.return_code}/${fields.result_code} ${fields.err_code ?? ''}`.slice(0, 255);
    return fail(200, 'NOT_SUCCESS', 'not a successful payment');
  }
  const { appid, mchId } = { appid: services.config.wechat.appid, mchId: services.config.pay!.mchId };
  if (fields.appid !== appid || fields.mch_id !== mchId) return fail(200, 'WRONG_MERCHANT', 'appid or mch_id mismatch');
  if (!fields.out_trade_no || !fields.transaction_id) return fail(200, 'MALFORMED', 'missing out_trade_no or transaction_id');

  const { verdict, order } = await settlePaid(em, {
    outTradeNo: fields.out_trade_no,
    transactionId: fields.transaction_id,
    totalFee: fields.total_fee ?? '',
    timeEnd: fields.time_end,
  });
  switch (verdict) {
    case 'PAID':
    case 'DUPLICATE':
      return ok(verdict);
    case 'UNKNOWN_ORDER':
      return fail(200, verdict, 'unknown order');
    case 'AMOUNT_MISMATCH':
      record.detail = `total_fee ${fields.total_fee} but order amount ${order?.amount}`.slice(0, 255);
      return fail(200, verdict, 'amount mismatch');
    case 'ORDER_CLOSED':
      // Money arrived for an order we had closed: acknowledging stops pointless retries; the log asks a human to refund.
      services.logger.error({ outTradeNo: fields.out_trade_no }, 'payment arrived for a CLOSED order: refund needed');
      return ok(verdict);
    case 'CONFLICT':
      services.logger.error({ outTradeNo: fields.out_trade_no }, 'notify conflicts with the recorded transaction');
      return fail(200, verdict, 'conflicting transaction');
  }
}
