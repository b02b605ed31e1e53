import type { Logger } from 'pino';
import type { Orm } from '../core/db';
import { isAppError } from '../core/errors';
import type { Metrics } from '../ops/metrics';
import { OrderStatus, type Order } from '../payment/order.entity';
import { orderRepository } from '../payment/order.repository';
import type { PaymentService } from '../payment/payment.service';
import type { Refund } from '../refund/refund.entity';
import { refundRepository } from '../refund/refund.repository';
import type { RefundService } from '../refund/refund.service';
import type { PayApi } from '../wechat/pay.client';
import { parseTimeEnd } from '../payment/settle';

export interface SweeperDeps {
  orm: Orm;
  pay: Pick<PayApi, 'closeOrder' | 'refundQuery'>;
  payments: Pick<PaymentService, 'refreshOrder'>;
  refunds?: Pick<RefundService, 'applyResult' | 'closeAndRelease'>;
  settings: {
    /** SWEEP_INTERVAL_SECONDS: 0 turns the sweeper off. */
    intervalSeconds: number;
    /** RECONCILE_AFTER_SECONDS: a PENDING order (or PROCESSING refund) this old is asked about. */
    reconcileAfterSeconds: number;
    /** PAY_ORDER_TTL_SECONDS: an unpaid order this old is closed. */
    orderTtlSeconds: number;
  };
  metrics: Metrics;
  logger: Logger;
}

/** Delays before each next question about the same order or refund: 1, 5, 30 minutes, then hourly. */
export const BACKOFF_SECONDS = [60, 300, 1800, 3600] as const;
/** The most orders (and refunds) one sweep takes on: the rest wait for the next. */
const BATCH = 50;

const backoff = (tries: number, now: number) =>
  new Date(now + BACKOFF_SECONDS[Math.min(tries, BACKOFF_SECONDS.length - 1)] * 1000);

/**
 * The sweeper of every instance: what a lost notify, an order nobody pays and a refund whose result never came
 * would otherwise leave hanging. Each piece of work is claimed by one conditional UPDATE (the next check moved out,
 * only if nobody moved it since it was read), so however many instances sweep, each order or refund is asked about
 * by one of them, and its state changes through the same exactly-once paths as a notify.
 *
 * - A PENDING order older than RECONCILE_AFTER_SECONDS: orderquery, with backoff (order(refresh)'s own path).
 * - A PENDING order older than PAY_ORDER_TTL_SECONDS: a last orderquery; still unpaid, closeorder at WeChat, then
 *   CLOSED here.
 * - A PROCESSING refund older than RECONCILE_AFTER_SECONDS: refundquery, applied like its notify; one WeChat never
 *   heard of (and never accepted) is CLOSED and released.
 */
export function createSweeper(deps: SweeperDeps) {
  const { settings, logger, metrics } = deps;
  /** Set by stop(): a sweep in progress ends after the call it is in (each is bounded). */
  let stopped = false;

  async function sweepOrders(now: number): Promise<void> {
    const em = deps.orm.em.fork();
    const orders = orderRepository(em);
    const due = await orders.duePending(new Date(now - settings.reconcileAfterSeconds * 1000), new Date(now), BATCH);
    for (const order of due) {
      if (stopped) return;
      // The next question comes after the backoff, or when the order's life ends if that is sooner.
      const endOfLife = order.createdAt.getTime() + settings.orderTtlSeconds * 1000;
      const later = backoff(order.reconcileTries, now);
      const next = endOfLife > now && endOfLife < later.getTime() ? new Date(endOfLife) : later;
      if (!(await orders.claimReconcile(order.id, order.reconcileTries, next))) continue;
      await reconcileOrder(order, now).catch((err: unknown) => {
        logger.warn({ outTradeNo: order.outTradeNo, code: codeOf(err) }, 'sweeper: order check failed');
      });
    }
  }

  async function reconcileOrder(order: Order, now: number): Promise<void> {
    const em = deps.orm.em.fork();
    const checked = await deps.payments.refreshOrder(em, order, 'sweeper');
    if (checked.status !== OrderStatus.PENDING) {
      metrics.sweeps.inc({ action: checked.status === OrderStatus.PAID ? 'settled' : 'closed-by-wechat' });
      logger.info({ outTradeNo: order.outTradeNo, status: checked.status }, 'sweeper: order settled by orderquery');
      return;
    }
    if (now - order.createdAt.getTime() < settings.orderTtlSeconds * 1000) return;
    // Past its life and still unpaid at WeChat: closed there first, so it can no longer be paid, then here.
    await deps.pay.closeOrder(order.outTradeNo);
    if (await orderRepository(em).closePending(order.id, 'closed by the sweeper: unpaid past PAY_ORDER_TTL_SECONDS')) {
      metrics.sweeps.inc({ action: 'closed' });
      metrics.orderTransitions.inc({ to: 'CLOSED', via: 'sweeper' });
      logger.info({ outTradeNo: order.outTradeNo }, 'sweeper: unpaid order closed (past PAY_ORDER_TTL_SECONDS)');
    }
  }

  async function sweepRefunds(now: number): Promise<void> {
    if (!deps.refunds) return;
    const em = deps.orm.em.fork();
    const refunds = refundRepository(em);
    const due = await refunds.dueForQuery(new Date(now), new Date(now - settings.reconcileAfterSeconds * 1000), BATCH);
    for (const refund of due) {
      if (stopped) return;
      if (!(await refunds.claimQuery(refund.id, refund.queryTries, backoff(refund.queryTries, now)))) continue;
      await reconcileRefund(refund).catch((err: unknown) => {
        logger.warn({ outRefundNo: refund.outRefundNo, code: codeOf(err) }, 'sweeper: refund check failed');
      });
    }
  }

  async function reconcileRefund(refund: Refund): Promise<void> {
    const em = deps.orm.em.fork();
    const state = await deps.pay.refundQuery(refund.outRefundNo);
    if (!state) {
      // WeChat has no such refund: its call never got through (or was refused), so nothing can be paid out.
      if (!refund.refundId && (await deps.refunds!.closeAndRelease(em, refund, 'REFUNDNOTEXIST at refundquery'))) {
        metrics.sweeps.inc({ action: 'refund-closed' });
        logger.warn({ outRefundNo: refund.outRefundNo }, 'sweeper: refund unknown to WeChat closed and released');
      }
      return;
    }
    const verdict = await deps.refunds!.applyResult(em, {
      outRefundNo: refund.outRefundNo,
      status: state.status,
      refundId: state.refundId,
      refundFee: state.refundFee === undefined ? undefined : Number(state.refundFee),
      succeededAt: state.successTime ? chinaTimeToDate(state.successTime) : undefined,
    });
    if (verdict !== 'PENDING' && verdict !== 'DUPLICATE') {
      metrics.sweeps.inc({ action: 'refund-reconciled' });
      logger.info({ outRefundNo: refund.outRefundNo, verdict }, 'sweeper: refund reconciled by refundquery');
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  /** One sweep: orders, then refunds. Never rejects: a failure is logged and the next sweep tries again. */
  async function sweep(): Promise<void> {
    const now = Date.now();
    try {
      await sweepOrders(now);
      await sweepRefunds(now);
    } catch (err) {
      logger.warn({ code: codeOf(err) }, 'sweep failed');
    }
  }

  return {
    sweep,
    start() {
      if (settings.intervalSeconds === 0 || timer) return;
      const tick = () => {
        if (stopped) return;
        running = sweep().finally(() => {
          running = undefined;
          // Spread over the interval, so instances started together do not sweep in step.
          if (!stopped) timer = setTimeout(tick, settings.intervalSeconds * 1000 * (0.8 + Math.random() * 0.4)).unref();
        });
      };
      timer = setTimeout(tick, settings.intervalSeconds * 1000 * Math.random()).unref();
    },
    /** Stops the loop and waits for a sweep in progress (each call in it is bounded). */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

const codeOf = (err: unknown) => (isAppError(err) ? err.code : (err as Error)?.message?.slice(0, 200));

/** refundquery's refund_success_time, `yyyy-MM-dd HH:mm:ss` China time. */
function chinaTimeToDate(text: string): Date | undefined {
  const compact = text.replace(/[-: ]/g, '');
  return /^\d{14}$/.test(compact) ? parseTimeEnd(compact) : undefined;
}

export type Sweeper = ReturnType<typeof createSweeper>;
