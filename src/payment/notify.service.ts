import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics';
import type { PayClient } from '../wechat/pay.client';
import { NOTIFY_SUCCESS, notifyFail, parsePayXml, PayXmlError } from '../wechat/pay-xml';
import type { PaymentNotification } from './payment-notification.entity';
import { notificationRepository, type ArrivedNotify } from './notification.repository';
import { databaseUnavailable, retriedWrite } from '../core/db';
import { settlePaid } from './settle';

/** The raw notify as it came off the wire. */
export interface RawNotify {
  text: string;
  /** Bytes actually received (a declared Content-Length proves nothing). */
  bytes: number;
  /** Over the cap: reading stopped there. */
  truncated: boolean;
  /** The sender stopped before the body was complete. */
  incomplete?: boolean;
}

export interface NotifyOutcome {
  httpStatus: number;
  body: string;
  verdict: string;
}

/** The cap on a notify body; WeChat's are about 1 KB. */
export const NOTIFY_BODY_CAP = 64 * 1024;

/**
 * What is kept of a body that never proved it came from WeChat (unparseable, unsigned, too large, or arriving while
 * payments are off): enough to see what it was, without letting anonymous POSTs fill the disk 64 KB at a time.
 */
export const UNVERIFIED_BODY_KEEP = 4 * 1024;

const fail = (httpStatus: number, verdict: string, message: string): NotifyOutcome => ({
  httpStatus,
  verdict,
  body: notifyFail(message),
});
const ok = (verdict: string): NotifyOutcome => ({ httpStatus: 200, verdict, body: NOTIFY_SUCCESS });

/**
 * WeChat's pay-result notify, in the order that keeps money safe: parse it strictly and verify the sign (no database
 * needed), keep the raw body, check it is a success for our merchant, match the amount, then make the one
 * PENDING → PAID transition. WeChat retries until it sees SUCCESS, so a repeat of a processed notify is answered
 * SUCCESS and changes nothing.
 */
export interface NotifyDeps {
  /** The merchant whose notifies these are; undefined when payments are not configured (every notify is refused 503). */
  merchant?: { pay: PayClient; appid: string; mchId: string };
  metrics: Metrics;
  logger: Logger;
}

export type NotifyService = ReturnType<typeof createNotifyService>;

export function createNotifyService(deps: NotifyDeps) {
  return {
    handle: (em: EntityManager, raw: RawNotify) => handleNotify(deps, em, raw),
    settleStranded,
  };
}

async function handleNotify(deps: NotifyDeps, em: EntityManager, raw: RawNotify): Promise<NotifyOutcome> {
  const found: NotifyFindings = {};
  let screened: ReturnType<typeof screen>;
  try {
    screened = screen(deps, raw, found);
  } catch (err) {
    await insertJudged(em, raw, { ...found, detail: String((err as Error).message).slice(0, 255) }, 'ERROR');
    deps.metrics.notifies.inc({ verdict: 'ERROR' });
    throw err;
  }
  if ('outcome' in screened) {
    // Never proved it came from WeChat: one row, already final and cut to the 4 KB cap, so no failure can leave it
    // RECEIVED or whole.
    await insertJudged(em, raw, found, screened.outcome.verdict);
    return recorded(deps, undefined, found, screened.outcome);
  }

  // Signed by WeChat: kept whole, with what identifies it, before anything is acted on.
  const notifications = notificationRepository(em);
  const id = await notifications.insertReceived(arrived(raw, found, raw.text));
  let outcome: NotifyOutcome;
  try {
    outcome = await judge(deps, em, screened.fields, found);
    await notifications.recordJudgement(id, { ...found, verdict: outcome.verdict, processedAt: new Date() });
  } catch (err) {
    // The route answers 500 and WeChat retries (a retry of an applied notify is a DUPLICATE); the row says why
    // instead of staying RECEIVED.
    deps.metrics.notifies.inc({ verdict: 'ERROR' });
    const write = recordFailure(deps, em, id, found, err);
    // With the database unreachable, WeChat must not wait even for the first try: the tries go on in the background.
    if (!databaseUnavailable(err)) await write.first;
    throw err;
  }
  return recorded(deps, id, found, outcome);
}

function arrived(raw: RawNotify, found: NotifyFindings, body: string): ArrivedNotify {
  return {
    receivedAt: new Date(),
    rawBody: body,
    bodyBytes: raw.bytes,
    outTradeNo: found.outTradeNo,
    transactionId: found.transactionId,
  };
}

async function insertJudged(em: EntityManager, raw: RawNotify, found: NotifyFindings, verdict: string): Promise<void> {
  const body = raw.text.slice(0, UNVERIFIED_BODY_KEEP);
  await notificationRepository(em).insertJudged(arrived(raw, found, body), {
    verdict,
    detail: found.detail,
    processedAt: new Date(),
  });
}

function recorded(
  deps: NotifyDeps,
  id: number | undefined,
  found: NotifyFindings,
  outcome: NotifyOutcome,
): NotifyOutcome {
  deps.metrics.notifies.inc({ verdict: outcome.verdict });
  if (outcome.verdict === 'PAID') deps.metrics.orderTransitions.inc({ to: 'PAID', via: 'notify' });
  const log = outcome.verdict === 'PAID' || outcome.verdict === 'DUPLICATE' ? 'info' : 'warn';
  deps.logger[log]({ notifyId: id, outTradeNo: found.outTradeNo, verdict: outcome.verdict }, 'pay notify');
  return outcome;
}

function recordFailure(deps: NotifyDeps, em: EntityManager, id: number, found: NotifyFindings, err: unknown) {
  return markNotifyError(deps.logger, em, id, err, 'notify', found);
}

/**
 * Marks an archived notify's row ERROR (pay, refund or v3: `what` names it in the log), retried through a short
 * outage; a row still RECEIVED after every try is swept later.
 */
export function markNotifyError(
  logger: Logger,
  em: EntityManager,
  id: number,
  err: unknown,
  what: string,
  found: NotifyFindings = {},
) {
  const detail = String((err as Error).message).slice(0, 255);
  return retriedWrite(
    () =>
      notificationRepository(em).recordJudgement(id, { ...found, verdict: 'ERROR', detail, processedAt: new Date() }),
    (writeErr, attempt) =>
      logger.warn(
        { notifyId: id, attempt, cause: String((writeErr as Error).message).slice(0, 200) },
        `could not mark the ${what} ERROR`,
      ),
  );
}

/**
 * Rows left RECEIVED (the process died mid-notify, or the database stayed away through every retry of the ERROR
 * write) become ERROR. They are not judged again here: WeChat retries every notify it did not see SUCCESS for, and
 * order(refresh) asks WeChat directly, so the money state never depended on them. Only rows older than `before` are
 * touched: younger ones may be in flight on another instance.
 */
async function settleStranded(em: EntityManager, before: Date): Promise<number> {
  return notificationRepository(em).settleStranded(
    before,
    'left RECEIVED: not processed to the end (server stopped or database unavailable)',
  );
}

/** What judging learns about a notify, stored on its row with the verdict. */
type NotifyFindings = Partial<Pick<PaymentNotification, 'outTradeNo' | 'transactionId' | 'detail'>>;

/** The checks that need no database: a body that fails one is answered without ever being trusted. */
function screen(
  { merchant }: NotifyDeps,
  raw: RawNotify,
  record: NotifyFindings,
): { outcome: NotifyOutcome } | { fields: Record<string, string> } {
  const pay = merchant?.pay;
  if (!pay) return { outcome: fail(503, 'PAYMENTS_DISABLED', 'payments are not configured') };
  if (raw.truncated) return { outcome: fail(413, 'BODY_TOO_LARGE', 'body too large') };
  if (raw.incomplete) return { outcome: fail(400, 'INCOMPLETE', 'body incomplete') };

  let fields: Record<string, string>;
  try {
    fields = parsePayXml(raw.text);
  } catch (err) {
    if (!(err instanceof PayXmlError)) throw err;
    record.detail = err.message.slice(0, 255);
    return { outcome: fail(400, err.reason === 'DOCTYPE' ? 'DOCTYPE_REFUSED' : 'MALFORMED', 'malformed XML') };
  }
  // Cut to the columns (32, as in orders): a longer one from a forged body is kept as evidence, and matches no order.
  record.outTradeNo = fields.out_trade_no?.slice(0, 32) || null;
  record.transactionId = fields.transaction_id?.slice(0, 32) || null;

  if (!pay.verify(fields)) return { outcome: fail(200, 'BAD_SIGN', 'bad sign') };
  return { fields };
}

/** A notify signed by WeChat: is it a success for our merchant, and does it settle the order? */
async function judge(
  deps: NotifyDeps,
  em: EntityManager,
  fields: Record<string, string>,
  record: NotifyFindings,
): Promise<NotifyOutcome> {
  if (fields.return_code !== 'SUCCESS' || fields.result_code !== 'SUCCESS') {
    record.detail = `${fields.return_code}/${fields.result_code} ${fields.err_code ?? ''}`.slice(0, 255);
    return fail(200, 'NOT_SUCCESS', 'not a successful payment');
  }
  // screen() let through only notifies signed with a configured merchant's key.
  const { appid, mchId } = deps.merchant!;
  if (fields.appid !== appid || fields.mch_id !== mchId) return fail(200, 'WRONG_MERCHANT', 'appid or mch_id mismatch');
  if (!fields.out_trade_no || !fields.transaction_id)
    return fail(200, 'MALFORMED', 'missing out_trade_no or transaction_id');
  // Longer than WeChat ever sends (and than the columns): refused here rather than failing the UPDATE as a 500 retry loop.
  if (fields.out_trade_no.length > 32 || fields.transaction_id.length > 32)
    return fail(200, 'MALFORMED', 'out_trade_no or transaction_id longer than 32');

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
      deps.logger.error({ outTradeNo: fields.out_trade_no }, 'payment arrived for a CLOSED order: refund needed');
      return ok(verdict);
    case 'CONFLICT':
      deps.logger.error({ outTradeNo: fields.out_trade_no }, 'notify conflicts with the recorded transaction');
      return fail(200, verdict, 'conflicting transaction');
  }
}
