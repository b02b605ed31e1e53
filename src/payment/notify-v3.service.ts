import type { KeyObject } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { databaseUnavailable } from '../core/db';
import type { Metrics } from '../ops/metrics';
import type { RefundService } from '../refund/refund.service';
import { refundStatusOf, timeEndOf } from '../wechat/v3/client';
import { decryptResource, SIGNTEST_PREFIX, V3DecryptError, verifyWechatpaySignature } from '../wechat/v3/crypto';
import { notificationRepository } from './notification.repository';
import { markNotifyError, UNVERIFIED_BODY_KEEP, type RawNotify } from './notify.service';
import { settlePaid } from './settle';

/** The Wechatpay-* headers a v3 notify carries. */
export interface V3NotifyHeaders {
  timestamp?: string;
  nonce?: string;
  signature?: string;
  serial?: string;
}

export interface V3NotifyOutcome {
  /** 204 when taken; 4xx/5xx with `{"code":"FAIL","message":…}` has WeChat send it again. */
  httpStatus: number;
  body?: string;
  verdict: string;
}

export interface V3NotifyDeps {
  appid: string;
  mchId: string;
  apiV3Key: string;
  /** WeChat Pay's public keys by id: the notify's Wechatpay-Serial picks one. */
  platformKeys: () => ReadonlyMap<string, KeyObject>;
  /** Certificate mode: the notify named a serial platformKeys lacks; resolved once a re-download (if any) is done. */
  onUnknownSerial?: (serial: string) => Promise<void>;
  refunds?: Pick<RefundService, 'applyResult'>;
  metrics: Metrics;
  logger: Logger;
}

/** A notify's timestamp may be at most this far from our clock. */
export const V3_NOTIFY_MAX_SKEW_SECONDS = 300;

/** WeChat Pay v3's refusal body (its own wire format, not one of our GraphQL error codes). */
export const v3FailBody = (message: string) => JSON.stringify({ code: V3_FAIL, message });
const V3_FAIL = 'FAIL';

const fail = (httpStatus: number, verdict: string, message: string): V3NotifyOutcome => ({
  httpStatus,
  verdict,
  body: v3FailBody(message),
});
const taken = (verdict: string): V3NotifyOutcome => ({ httpStatus: 204, verdict });

/** The event types and the associated_data their resources are sealed with. */
const AAD: Record<string, string> = {
  'TRANSACTION.SUCCESS': 'transaction',
  'REFUND.SUCCESS': 'refund',
  'REFUND.ABNORMAL': 'refund',
  'REFUND.CLOSED': 'refund',
};

/**
 * POST /notify/v3: WeChat Pay v3's pay and refund results, in the order that keeps money safe. The signature over the
 * raw body with the public key its Wechatpay-Serial names, a timestamp within 5 minutes, and never a SIGNTEST probe;
 * then the resource decrypted (AES-256-GCM, the APIv3 key, its associated_data); then appid, mchid and the amount
 * against the order, and the one PENDING → PAID transition v2 uses (or the refund's own once-only result). Every
 * body is archived with its verdict; one that never proved it came from WeChat is cut to 4 KB.
 */
export function createV3NotifyService(deps: V3NotifyDeps) {
  async function handle(em: EntityManager, raw: RawNotify, headers: V3NotifyHeaders): Promise<V3NotifyOutcome> {
    const notifications = notificationRepository(em);
    const judged = async (outcome: V3NotifyOutcome, detail?: string) => {
      await notifications.insertJudged(
        {
          kind: 'pay',
          receivedAt: new Date(),
          rawBody: raw.text.slice(0, UNVERIFIED_BODY_KEEP),
          bodyBytes: raw.bytes,
          outTradeNo: null,
          transactionId: null,
        },
        { verdict: outcome.verdict, detail: detail?.slice(0, 255) ?? null, processedAt: new Date() },
      );
      return counted(outcome);
    };
    const counted = (outcome: V3NotifyOutcome) => {
      deps.metrics.notifies.inc({ verdict: outcome.verdict });
      deps.logger[outcome.httpStatus === 204 ? 'info' : 'warn']({ verdict: outcome.verdict }, 'v3 notify');
      return outcome;
    };

    if (raw.truncated) return judged(fail(413, 'BODY_TOO_LARGE', 'body too large'));
    if (raw.incomplete) return judged(fail(400, 'INCOMPLETE', 'body incomplete'));
    const { timestamp = '', nonce = '', signature = '', serial = '' } = headers;
    if (signature.startsWith(SIGNTEST_PREFIX)) return judged(fail(401, 'SIGNTEST', 'signature probe'));
    let key = deps.platformKeys().get(serial);
    if (!key && deps.onUnknownSerial) {
      await deps.onUnknownSerial(serial);
      key = deps.platformKeys().get(serial);
    }
    if (!key) return judged(fail(401, 'UNKNOWN_SERIAL', 'unknown Wechatpay-Serial'), `serial ${serial.slice(0, 64)}`);
    if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > V3_NOTIFY_MAX_SKEW_SECONDS)
      return judged(fail(401, 'STALE', 'timestamp too far from now'));
    if (!verifyWechatpaySignature({ timestamp, nonce, signature }, raw.text, key))
      return judged(fail(401, 'BAD_SIGN', 'bad signature'));

    let event: { event_type?: unknown; resource?: unknown };
    try {
      event = JSON.parse(raw.text) as typeof event;
    } catch {
      return judged(fail(400, 'MALFORMED', 'not JSON'));
    }
    const eventType = typeof event.event_type === 'string' ? event.event_type : '';
    const aad = AAD[eventType];
    if (!aad) return judged(taken('IGNORED'), `event ${eventType.slice(0, 64)}`);
    const resource = event.resource as { associated_data?: unknown } | undefined;
    if (typeof resource !== 'object' || resource === null || resource.associated_data !== aad)
      return judged(fail(400, 'MALFORMED', 'resource missing or for another kind'));
    let plain: Record<string, unknown>;
    try {
      plain = JSON.parse(decryptResource(resource as Parameters<typeof decryptResource>[0], deps.apiV3Key)) as Record<
        string,
        unknown
      >;
    } catch (err) {
      const reason = err instanceof V3DecryptError ? err.reason : 'JSON';
      return judged(fail(400, 'UNDECRYPTABLE', 'resource does not decrypt'), `reason ${reason}`);
    }
    if (plain.mchid !== deps.mchId || (aad === 'transaction' && plain.appid !== deps.appid))
      return judged(fail(400, 'WRONG_MERCHANT', 'appid or mchid mismatch'));

    // Verified and decrypted: kept whole before it is acted on.
    const outTradeNo = typeof plain.out_trade_no === 'string' ? plain.out_trade_no : '';
    const transactionId = typeof plain.transaction_id === 'string' ? plain.transaction_id : '';
    const id = await notifications.insertReceived({
      kind: aad === 'refund' ? 'refund' : 'pay',
      receivedAt: new Date(),
      rawBody: raw.text,
      bodyBytes: raw.bytes,
      outTradeNo: outTradeNo.slice(0, 32) || null,
      transactionId: transactionId.slice(0, 32) || null,
    });
    try {
      const outcome = aad === 'transaction' ? await transaction(em, plain) : await refund(em, eventType, plain);
      await notifications.recordJudgement(id, { verdict: outcome.verdict, processedAt: new Date() });
      return counted(outcome);
    } catch (err) {
      deps.metrics.notifies.inc({ verdict: 'ERROR' });
      const write = markNotifyError(deps.logger, em, id, err, 'v3 notify');
      if (!databaseUnavailable(err)) await write.first;
      throw err;
    }
  }

  async function transaction(em: EntityManager, plain: Record<string, unknown>): Promise<V3NotifyOutcome> {
    if (plain.trade_state !== 'SUCCESS') return taken('NOT_SUCCESS');
    const amount = plain.amount as { total?: unknown } | undefined;
    if (
      typeof plain.out_trade_no !== 'string' ||
      typeof plain.transaction_id !== 'string' ||
      typeof amount?.total !== 'number'
    )
      return fail(400, 'MALFORMED', 'missing out_trade_no, transaction_id or amount.total');
    const { verdict } = await settlePaid(em, {
      outTradeNo: plain.out_trade_no,
      transactionId: plain.transaction_id,
      totalFee: String(amount.total),
      timeEnd: timeEndOf(plain.success_time),
    });
    if (verdict === 'PAID') deps.metrics.orderTransitions.inc({ to: 'PAID', via: 'notify' });
    switch (verdict) {
      case 'PAID':
      case 'DUPLICATE':
        return taken(verdict);
      case 'ORDER_CLOSED':
        deps.logger.error({ outTradeNo: plain.out_trade_no }, 'payment arrived for a CLOSED order: refund needed');
        return taken(verdict);
      default:
        return fail(400, verdict, verdict.toLowerCase().replace('_', ' '));
    }
  }

  async function refund(
    em: EntityManager,
    eventType: string,
    plain: Record<string, unknown>,
  ): Promise<V3NotifyOutcome> {
    if (!deps.refunds) return fail(503, 'REFUNDS_DISABLED', 'refunds are not configured');
    const amount = plain.amount as { refund?: unknown } | undefined;
    if (typeof plain.out_refund_no !== 'string') return fail(400, 'MALFORMED', 'missing out_refund_no');
    const successTime = typeof plain.success_time === 'string' ? new Date(plain.success_time) : undefined;
    const verdict = await deps.refunds.applyResult(em, {
      outRefundNo: plain.out_refund_no,
      outTradeNo: typeof plain.out_trade_no === 'string' ? plain.out_trade_no : undefined,
      status: refundStatusOf(typeof plain.refund_status === 'string' ? plain.refund_status : eventType.slice(7)),
      refundId: typeof plain.refund_id === 'string' ? plain.refund_id : undefined,
      refundFee: typeof amount?.refund === 'number' ? amount.refund : undefined,
      succeededAt: successTime && !Number.isNaN(successTime.getTime()) ? successTime : undefined,
    });
    return verdict === 'UNKNOWN_REFUND' || verdict === 'MISMATCH'
      ? fail(400, verdict, verdict.toLowerCase().replace('_', ' '))
      : taken(verdict);
  }

  return { handle };
}

export type V3NotifyService = ReturnType<typeof createV3NotifyService>;
