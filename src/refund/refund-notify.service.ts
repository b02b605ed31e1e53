import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { databaseUnavailable } from '../core/db';
import { isAppError } from '../core/errors';
import type { Metrics } from '../ops/metrics';
import { notificationRepository } from '../payment/notification.repository';
import { markNotifyError, UNVERIFIED_BODY_KEEP, type NotifyOutcome, type RawNotify } from '../payment/notify.service';
import { NOTIFY_SUCCESS, notifyFail } from '../wechat/pay-xml';
import { decryptRefundNotify, type RefundNotify } from '../wechat/refund-notify';
import type { RefundService, ResultVerdict } from './refund.service';

export interface RefundNotifyDeps {
  /** The merchant whose refund notifies these are; undefined when payments are off (every one is refused 503). */
  merchant?: { appid: string; mchId: string; key: string };
  refunds: Pick<RefundService, 'applyResult'>;
  metrics: Metrics;
  logger: Logger;
}

const fail = (httpStatus: number, verdict: string, message: string): NotifyOutcome => ({
  httpStatus,
  verdict,
  body: notifyFail(message),
});
const ok = (verdict: string): NotifyOutcome => ({ httpStatus: 200, verdict, body: NOTIFY_SUCCESS });

/** The refund verdicts WeChat should stop retrying for. */
const SETTLED: ReadonlySet<ResultVerdict> = new Set(['SUCCEEDED', 'CLOSED', 'CHANGED', 'DUPLICATE', 'PENDING']);

/**
 * POST /notify/refund, the refund result. It carries no sign: what authenticates it is that req_info decrypts under
 * md5(API key) into a well-formed result. Every body is archived (payment_notifications, kind `refund`) with its
 * verdict; one that does not decrypt is refused with FAIL and kept to the 4 KB cap. The result then settles the refund
 * once (refundService.applyResult): a repeat answers SUCCESS and changes nothing.
 */
export function createRefundNotifyService(deps: RefundNotifyDeps) {
  async function handle(em: EntityManager, raw: RawNotify): Promise<NotifyOutcome> {
    const notifications = notificationRepository(em);
    const judged = async (outcome: NotifyOutcome, detail?: string, found: Partial<RefundNotify> = {}) => {
      await notifications.insertJudged(
        {
          kind: 'refund',
          receivedAt: new Date(),
          rawBody: raw.text.slice(0, UNVERIFIED_BODY_KEEP),
          bodyBytes: raw.bytes,
          outTradeNo: found.outTradeNo?.slice(0, 32) ?? null,
          transactionId: found.transactionId?.slice(0, 32) ?? null,
        },
        { verdict: outcome.verdict, detail: detail?.slice(0, 255) ?? null, processedAt: new Date() },
      );
      return counted(outcome);
    };
    const counted = (outcome: NotifyOutcome) => {
      deps.metrics.refundNotifies.inc({ verdict: outcome.verdict });
      deps.logger[outcome.httpStatus === 200 && SETTLED.has(outcome.verdict as ResultVerdict) ? 'info' : 'warn'](
        { verdict: outcome.verdict },
        'refund notify',
      );
      return outcome;
    };

    const merchant = deps.merchant;
    if (!merchant) return judged(fail(503, 'PAYMENTS_DISABLED', 'payments are not configured'));
    if (raw.truncated) return judged(fail(413, 'BODY_TOO_LARGE', 'body too large'));
    if (raw.incomplete) return judged(fail(400, 'INCOMPLETE', 'body incomplete'));

    let notify: RefundNotify;
    try {
      notify = decryptRefundNotify(raw.text, merchant.key);
    } catch (err) {
      if (!isAppError(err)) throw err;
      const reason = typeof err.extensions.reason === 'string' ? err.extensions.reason : 'MALFORMED';
      const status = err.code === 'BAD_USER_INPUT' && reason !== 'RETURN_FAIL' ? 400 : 200;
      return judged(fail(status, reason, 'refund notify refused'), err.message);
    }
    if (notify.appid !== merchant.appid || notify.mchId !== merchant.mchId)
      return judged(fail(200, 'WRONG_MERCHANT', 'appid or mch_id mismatch'), undefined, notify);

    // Decrypted under our key: kept whole before it is acted on.
    const id = await notifications.insertReceived({
      kind: 'refund',
      receivedAt: new Date(),
      rawBody: raw.text,
      bodyBytes: raw.bytes,
      outTradeNo: notify.outTradeNo.slice(0, 32),
      transactionId: notify.transactionId.slice(0, 32),
    });
    try {
      const verdict = await deps.refunds.applyResult(em, {
        outRefundNo: notify.outRefundNo,
        outTradeNo: notify.outTradeNo,
        status: notify.refundStatus,
        refundId: notify.refundId,
        refundFee: notify.refundFee,
        succeededAt: notify.succeededAt,
      });
      const outcome = SETTLED.has(verdict) ? ok(verdict) : fail(200, verdict, verdict.toLowerCase().replace('_', ' '));
      const detail = `${notify.outRefundNo} ${notify.refundStatus}`;
      await notifications.recordJudgement(id, { verdict: outcome.verdict, detail, processedAt: new Date() });
      if (verdict === 'MISMATCH')
        deps.logger.error({ outRefundNo: notify.outRefundNo }, 'refund notify does not match the refund: ignored');
      return counted(outcome);
    } catch (err) {
      deps.metrics.refundNotifies.inc({ verdict: 'ERROR' });
      const write = markNotifyError(deps.logger, em, id, err, 'refund notify');
      if (!databaseUnavailable(err)) await write.first;
      throw err;
    }
  }
  return { handle };
}

export type RefundNotifyService = ReturnType<typeof createRefundNotifyService>;
