import { randomBytes } from 'node:crypto';
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../core/errors';
import type { Metrics } from '../ops/metrics';
import { OrderStatus, type Order } from '../payment/order.entity';
import { orderRepository } from '../payment/order.repository';
import { REFUND_RETRY_CODES, type PayApi } from '../wechat/pay.client';
import { Refund, RefundStatus } from './refund.entity';
import { MAX_REFUNDS_PER_ORDER, orderIdOf, refundRepository } from './refund.repository';

export interface RefundRequest {
  outTradeNo: string;
  amount: number;
  reason?: string | null;
  outRefundNo?: string | null;
}

export interface RefundDeps {
  pay: Pick<PayApi, 'refund' | 'refundsEnabled'>;
  /** WECHAT_REFUND_NOTIFY_URL, or the pay notify URL's origin + /notify/refund. */
  notifyUrl: () => string;
  metrics: Metrics;
  logger: Logger;
  /** Delays before each retry of a SYSTEMERROR / BIZERR_NEED_RETRY answer (same out_refund_no). */
  retryDelaysMs?: readonly number[];
  /** RECONCILE_AFTER_SECONDS in ms: the sweeper leaves a refund alone this long after each call about it. */
  reconcileAfterMs?: number;
  /** WECHAT_TIMEOUT_MS: the bound on each call, so the sweeper stays away for as long as a send may run. */
  callTimeoutMs?: number;
}

/** A refund result, from the refund notify or refundquery: what settles a refund. */
export interface RefundResult {
  outRefundNo: string;
  /** Checked against the refund's order when given: ECB lets blocks of another notify be spliced in. */
  outTradeNo?: string;
  status: 'SUCCESS' | 'REFUNDCLOSE' | 'CHANGE' | 'PROCESSING' | (string & {});
  refundId?: string;
  /** refund_fee as WeChat reports it, integer fen: must equal the refund's amount. */
  refundFee?: number;
  succeededAt?: Date;
}

export type ResultVerdict =
  'SUCCEEDED' | 'CLOSED' | 'CHANGED' | 'DUPLICATE' | 'UNKNOWN_REFUND' | 'MISMATCH' | 'PENDING';

/** WeChat's out_refund_no: at most 64 of these. */
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
/** refund_desc: at most 80 characters. */
const REASON_MAX = 80;
/** WeChat refunds a payment for a year. */
const REFUND_WINDOW_MS = 365 * 24 * 60 * 60 * 1000;
const RETRY_DELAYS_MS = [200, 1000];

/** `R` + yyyyMMddHHmmss (UTC) + 12 random hex: 27 characters, sortable, unguessable enough to collide never. */
export function newOutRefundNo(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `R${stamp}${randomBytes(6).toString('hex')}`;
}

/** An extension's value as text ('' when it is not a string). */
const text = (v: unknown) => (typeof v === 'string' ? v : '');

const badInput = (field: string, message: string) => new AppError('BAD_USER_INPUT', message, { field });

/**
 * Refunds: reserve, ask WeChat over mutual TLS, settle on its result. The reservation (refundRepository.reserve) is the
 * one atomic step that keeps every refund that is not CLOSED within the order's amount, on any number of instances.
 * outRefundNo is the idempotency key here and at WeChat.
 */
export function createRefundService(deps: RefundDeps) {
  const retryDelays = deps.retryDelaysMs ?? RETRY_DELAYS_MS;

  async function refund(em: EntityManager, request: RefundRequest): Promise<Refund> {
    const { amount } = request;
    if (!Number.isSafeInteger(amount) || amount < 1)
      throw badInput('amount', 'amount must be a positive integer number of fen.');
    const reason = request.reason?.trim() || null;
    if (reason && Array.from(reason).length > REASON_MAX)
      throw badInput('reason', `reason must be at most ${REASON_MAX} characters.`);
    if (request.outRefundNo != null && !OUT_REFUND_NO.test(request.outRefundNo))
      throw badInput('outRefundNo', 'outRefundNo must be 1 to 64 of 0-9, A-Z, a-z, _, -, |, * and @.');
    if (!deps.pay.refundsEnabled) throw new AppError('REFUNDS_DISABLED');

    const order = await orderRepository(em).findByOutTradeNo(request.outTradeNo);
    if (!order) throw badInput('outTradeNo', 'No order has this outTradeNo.');
    const outRefundNo = request.outRefundNo ?? newOutRefundNo();
    const refunds = refundRepository(em);

    const existing = await refunds.findByOutRefundNo(outRefundNo);
    if (existing) return again(em, order, existing, amount);
    if (order.status === OrderStatus.PENDING || order.status === OrderStatus.CLOSED)
      throw new AppError('ORDER_NOT_PAID', undefined, { status: order.status });
    if (order.paidAt && Date.now() - order.paidAt.getTime() > REFUND_WINDOW_MS)
      throw new AppError('REFUND_FAILED', 'WeChat refunds a payment within a year of it: this one is older.', {
        wechatErrCode: 'TRADE_OVERDUE',
      });

    let id: number;
    try {
      id = await em.transactional(async (tx) => {
        const inTx = refundRepository(tx);
        if (!(await inTx.reserve(order.id, amount))) throw await refusal(tx, order.id);
        return inTx.insert({ outRefundNo, orderId: order.id, amount, reason });
      });
    } catch (err) {
      // The same key, sent twice at once: the other one inserted it (and this reservation rolled back).
      if (err instanceof UniqueConstraintViolationException) {
        const winner = await refunds.findByOutRefundNo(outRefundNo);
        if (winner) return again(em, order, winner, amount);
      }
      throw err;
    }
    deps.logger.info({ outTradeNo: order.outTradeNo, outRefundNo, amount }, 'refund reserved');
    return send(em, order, (await refunds.findById(id))!);
  }

  /** The same outRefundNo again: the same refund, sent to WeChat once more only when WeChat never accepted it. */
  async function again(em: EntityManager, order: Order, refund: Refund, amount: number): Promise<Refund> {
    const orderId = orderIdOf(refund);
    if (orderId !== order.id || refund.amount !== amount)
      throw badInput(
        'outRefundNo',
        'This outRefundNo was used for another order or amount: use a new one (or the same order and amount).',
      );
    if (refund.status === RefundStatus.PROCESSING && !refund.refundId) return send(em, order, refund);
    if (refund.status !== RefundStatus.CLOSED) return refund;
    // Closed (WeChat refused it or could not be reached): reserve again and send it again under the same key.
    const reopened = await em.transactional(async (tx) => {
      const inTx = refundRepository(tx);
      if (!(await inTx.transition(refund.id, [RefundStatus.CLOSED], RefundStatus.PROCESSING, { lastError: null })))
        return false;
      if (!(await inTx.reserve(order.id, amount))) throw await refusal(tx, order.id);
      return true;
    });
    const current = (await refundRepository(em).findById(refund.id))!;
    return reopened ? send(em, order, current) : current;
  }

  /** Why a reservation did not fit, read after it failed (inside its transaction). */
  async function refusal(em: EntityManager, orderId: number): Promise<AppError> {
    const order = (await orderRepository(em).findById(orderId))!;
    if (order.status === OrderStatus.PENDING || order.status === OrderStatus.CLOSED)
      return new AppError('ORDER_NOT_PAID', undefined, { status: order.status });
    if (order.refundCount >= MAX_REFUNDS_PER_ORDER)
      return new AppError('REFUND_FAILED', 'An order takes at most 50 refunds.', {
        wechatErrCode: 'TOO_MANY_REFUNDS',
      });
    return new AppError('REFUND_EXCEEDS_PAID', undefined, {
      amount: order.amount,
      refundable: Math.max(0, order.amount - order.refunded),
    });
  }

  /**
   * Asks WeChat, retrying SYSTEMERROR and BIZERR_NEED_RETRY with the same out_refund_no. Accepted: the refund_id is
   * stored and the refund stays PROCESSING until its result. Refused or unreachable: CLOSED and its reservation
   * released, in one transaction, once.
   */
  async function send(em: EntityManager, order: Order, refund: Refund): Promise<Refund> {
    // The sweeper's refundquery could answer REFUNDNOTEXIST before WeChat has this call: it waits until every try of
    // it has run out its bound, and RECONCILE_AFTER_SECONDS more.
    const inFlightMs =
      (deps.callTimeoutMs ?? 5000) * (retryDelays.length + 1) + retryDelays.reduce((sum, ms) => sum + ms, 0);
    await refundRepository(em).deferQuery(
      refund.id,
      new Date(Date.now() + inFlightMs + (deps.reconcileAfterMs ?? 60_000)),
    );
    let failure: AppError | undefined;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { refundId } = await deps.pay.refund({
          outTradeNo: order.outTradeNo,
          outRefundNo: refund.outRefundNo,
          totalFee: order.amount,
          refundFee: refund.amount,
          reason: refund.reason,
          notifyUrl: deps.notifyUrl(),
        });
        await refundRepository(em).setRefundId(
          refund.id,
          refundId,
          new Date(Date.now() + (deps.reconcileAfterMs ?? 60_000)),
        );
        deps.metrics.refunds.inc({ outcome: 'accepted' });
        return Object.assign(refund, { refundId });
      } catch (err) {
        if (!isAppError(err)) throw err;
        const code = text(err.extensions.wechatErrCode);
        if (err.code === 'REFUND_FAILED' && REFUND_RETRY_CODES.has(code) && attempt < retryDelays.length) {
          await new Promise((resolve) => setTimeout(resolve, retryDelays[attempt]));
          continue;
        }
        failure = err;
        break;
      }
    }
    const lastError =
      failure.code === 'REFUND_FAILED'
        ? `${text(failure.extensions.wechatErrCode)}: ${text(failure.extensions.wechatErrMsg)}`
        : failure.code;
    if (!(await closeAndRelease(em, refund, lastError, true))) {
      // Settled or accepted meanwhile (its notify, or a parallel send of the same key): it was made, say so.
      const current = (await refundRepository(em).findById(refund.id))!;
      deps.logger.warn(
        { outRefundNo: refund.outRefundNo, status: current.status, code: failure.code },
        'refund call failed, but the refund was accepted meanwhile: answered as it stands',
      );
      return current;
    }
    deps.metrics.refunds.inc({ outcome: failure.code });
    deps.logger.warn({ outRefundNo: refund.outRefundNo, code: failure.code, lastError }, 'refund not made: released');
    // The operator retries with the same key, which sends it again.
    throw new AppError(failure.code, failure.message, { ...failure.extensions, outRefundNo: refund.outRefundNo });
  }

  /**
   * CLOSED and its amount released, once. `unaccepted`: only if WeChat never accepted it (no refund_id), for a call
   * of ours that failed; WeChat's own REFUNDCLOSE closes it from PROCESSING or CHANGE either way.
   */
  async function closeAndRelease(
    em: EntityManager,
    refund: Refund,
    lastError: string | null,
    unaccepted = false,
  ): Promise<boolean> {
    const orderId = orderIdOf(refund);
    const from = unaccepted ? [RefundStatus.PROCESSING] : [RefundStatus.PROCESSING, RefundStatus.CHANGE];
    return em.transactional(async (tx) => {
      const inTx = refundRepository(tx);
      if (!(await inTx.transition(refund.id, from, RefundStatus.CLOSED, { lastError, unaccepted }))) return false;
      await inTx.adjust(orderId, -refund.amount);
      return true;
    });
  }

  /**
   * A refund result (the notify or refundquery), applied once: SUCCESS (and the order REFUNDED when whole),
   * REFUNDCLOSE (CLOSED and released), CHANGE. The refund must be ours, for its order, of its amount.
   */
  async function applyResult(em: EntityManager, result: RefundResult): Promise<ResultVerdict> {
    const refunds = refundRepository(em);
    const refund = await refunds.findByOutRefundNo(result.outRefundNo);
    if (!refund) return 'UNKNOWN_REFUND';
    const orderId = orderIdOf(refund);
    const order = (await orderRepository(em).findById(orderId))!;
    if (
      (result.outTradeNo !== undefined && result.outTradeNo !== order.outTradeNo) ||
      (result.refundFee !== undefined && result.refundFee !== refund.amount) ||
      // ECB splicing could carry another refund's id: WeChat's id for this refund never changes.
      (refund.refundId && result.refundId && result.refundId !== refund.refundId)
    )
      return 'MISMATCH';
    switch (result.status) {
      case 'SUCCESS': {
        const verdict = await em.transactional(async (tx) => {
          const inTx = refundRepository(tx);
          const extra = { refundId: result.refundId, succeededAt: result.succeededAt ?? new Date(), lastError: null };
          if (
            await inTx.transition(
              refund.id,
              [RefundStatus.PROCESSING, RefundStatus.CHANGE],
              RefundStatus.SUCCESS,
              extra,
            )
          )
            return 'SUCCEEDED' as const;
          // We had closed it (its call failed), yet WeChat made it: what WeChat paid out stands.
          if (await inTx.transition(refund.id, [RefundStatus.CLOSED], RefundStatus.SUCCESS, extra)) {
            await inTx.adjust(orderId, refund.amount);
            deps.logger.error(
              { outRefundNo: refund.outRefundNo },
              'WeChat made a refund this server had closed: recorded as SUCCESS',
            );
            return 'SUCCEEDED' as const;
          }
          return 'DUPLICATE' as const;
        });
        if (verdict === 'SUCCEEDED') deps.metrics.refunds.inc({ outcome: 'succeeded' });
        // On a repeat too: a mark that failed after the first one's commit is made now (it is idempotent).
        await refunds.markRefundedIfWhole(orderId);
        return verdict;
      }
      case 'REFUNDCLOSE':
        return (await closeAndRelease(em, refund, 'REFUNDCLOSE')) ? 'CLOSED' : 'DUPLICATE';
      case 'CHANGE':
        return (await refunds.transition(refund.id, [RefundStatus.PROCESSING], RefundStatus.CHANGE, {
          lastError: 'CHANGE',
        }))
          ? 'CHANGED'
          : 'DUPLICATE';
      default:
        return 'PENDING';
    }
  }

  return {
    refund,
    applyResult,
    closeAndRelease,
    /** An order's refunds, oldest first. */
    listForOrder: (em: EntityManager, orderId: number) => refundRepository(em).listForOrder(orderId),
  };
}

export type RefundService = ReturnType<typeof createRefundService>;
