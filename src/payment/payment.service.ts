import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { AppError } from '../core/errors';
import type { KeyValue } from '../core/kv';
import type { Metrics } from '../ops/metrics';
import type { Session } from '../auth/session';
import { User } from '../auth/user.entity';
import type { PayApi } from '../wechat/pay.client';
import { OrderStatus, type Order } from './order.entity';
import { orderRepository } from './order.repository';
import { settlePaid } from './settle';
import { retriedWrite, wholeSecondsNow } from '../core/db';
import { enforceRateLimit } from '../auth/rate-limit';
import type { PaymentPayload } from './payment.types';

/** Time-ordered prefix + 96 random bits: unique without a lookup, 29 chars of [0-9A-Za-z_-] (WeChat allows 32). */
export function newOutTradeNo(now = Date.now()): string {
  return `${now}${randomBytes(12).toString('base64url')}`;
}

/** WeChat refuses a time_expire less than 5 minutes ahead: a shorter PAY_ORDER_TTL_SECONDS is ours alone. */
export const TIME_EXPIRE_MIN_SECONDS = 300;

/** yyyyMMddHHmmss in China time (UTC+8 all year), as WeChat Pay v2 writes times. */
export function chinaTime(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** ::ffff:1.2.3.4 → 1.2.3.4; WeChat wants the payer's plain IP. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export interface PaymentDeps {
  pay: PayApi;
  /** PAY_MAX_AMOUNT, PAY_DESCRIPTION and PAY_ORDER_TTL_SECONDS. */
  settings: { maxAmount: number; description: string; orderTtlSeconds?: number };
  /** The key-value store's 'rate-limit' use, with PAY_RATE_PER_USER calls per PAY_RATE_WINDOW_SECONDS. */
  rateLimits: KeyValue;
  limits: { payPerUser: number; payWindowSeconds: number };
  metrics: Metrics;
  logger: Logger;
  /** The notify_url sent to WeChat: WECHAT_NOTIFY_URL, or this server's own /notify under the simulator. */
  notifyUrl: () => string;
}

export type PaymentService = ReturnType<typeof createPaymentService>;

/** Built only when a merchant is configured: without one there is no PaymentService, and createPayment says so. */
export function createPaymentService({ pay, settings, rateLimits, limits, metrics, logger, notifyUrl }: PaymentDeps) {
  /** PENDING → CLOSED for an order the client cannot pay, retried through a short outage of the database. */
  const closeUnpaid = (em: EntityManager, order: Order) =>
    retriedWrite(
      async () => {
        const closed = await orderRepository(em).closePending(order.id, order.lastError);
        if (closed) metrics.orderTransitions.inc({ to: 'CLOSED', via: 'createPayment' });
      },
      (err, attempt) =>
        logger.warn(
          { outTradeNo: order.outTradeNo, attempt, cause: messageOf(err) },
          'could not close the unpayable order',
        ),
    );

  const closeAtWeChat = (outTradeNo: string) => {
    pay
      .closeOrder(outTradeNo)
      .catch((e: unknown) => logger.warn({ outTradeNo, cause: causeOf(e) }, 'closeorder after failed createPayment'));
  };

  return {
    /** PAY_MAX_AMOUNT, in fen: paymentLimits states it. */
    maxAmount: settings.maxAmount,

    async createPayment(em: EntityManager, session: Session, money: number, clientIp: string): Promise<PaymentPayload> {
      // Every call counts, each operation of a batch too: one token once made 4,200 orders in 8 s.
      await enforceRateLimit(rateLimits, `pay-openid:${session.openid}`, limits.payPerUser, limits.payWindowSeconds);
      const { maxAmount, description } = settings;
      if (!Number.isSafeInteger(money) || money < 1 || money > maxAmount) {
        throw new AppError('BAD_USER_INPUT', `money must be an integer number of fen between 1 and ${maxAmount}.`, {
          field: 'money',
        });
      }

      // Persisted before WeChat hears of it, so a notify can never arrive for an order we don't have.
      const orders = orderRepository(em);
      const now = wholeSecondsNow();
      // A plain snapshot of the row, as the repository's rows are: nothing flushes it.
      const order: Order = {
        id: 0,
        outTradeNo: newOutTradeNo(),
        user: em.getReference(User, session.userId),
        amount: money,
        description,
        status: OrderStatus.PENDING,
        prepayId: null,
        transactionId: null,
        paidAt: null,
        lastError: null,
        refunded: 0,
        refundCount: 0,
        reconcileAt: null,
        reconcileTries: 0,
        createdAt: now,
        updatedAt: now,
      };
      order.id = await orders.insertPending({ ...order, userId: session.userId });

      let prepayId: string;
      try {
        ({ prepayId } = await pay.unifiedOrder({
          outTradeNo: order.outTradeNo,
          totalFee: order.amount,
          body: description,
          openid: session.openid,
          clientIp: normalizeIp(clientIp),
          notifyUrl: notifyUrl(),
          ...(settings.orderTtlSeconds && settings.orderTtlSeconds >= TIME_EXPIRE_MIN_SECONDS
            ? { timeExpire: chinaTime(new Date(now.getTime() + settings.orderTtlSeconds * 1000)) }
            : {}),
        }));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        // Never leave an order looking payable when the client got no way to pay it.
        order.status = OrderStatus.CLOSED;
        order.lastError = describeError(err);
        await closeUnpaid(em, order).first;
        // After a timeout WeChat may still have created the prepay order: close it there too (best effort).
        if (err.code === 'WECHAT_UNAVAILABLE') closeAtWeChat(order.outTradeNo);
        throw err;
      }
      try {
        await orders.setPrepayId(order.id, prepayId);
      } catch (err) {
        // WeChat holds a payable prepay order but the client gets no params: close it there and here, in the
        // background (the database may be away for a while), and answer now.
        order.lastError = err instanceof AppError ? describeError(err) : messageOf(err).slice(0, 255);
        closeAtWeChat(order.outTradeNo);
        void closeUnpaid(em, order);
        throw err;
      }
      order.prepayId = prepayId;
      return { order, payParams: pay.requestPaymentParams(prepayId) };
    },

    /**
     * order(refresh: true): a PENDING order is checked with WeChat's orderquery, and a SUCCESS answer goes through the
     * same exactly-once path as a notify — which is how a lost notify still ends PAID. An unreachable WeChat leaves
     * the order as it is (still truthfully PENDING) rather than failing the query.
     */
    async refreshOrder(em: EntityManager, order: Order, via = 'refresh'): Promise<Order> {
      if (order.status !== OrderStatus.PENDING) return order;
      let answer;
      try {
        answer = await pay.orderQuery(order.outTradeNo);
      } catch (err) {
        logger.warn(
          { outTradeNo: order.outTradeNo, code: (err as AppError).code, cause: causeOf(err) },
          'orderquery failed',
        );
        return order;
      }
      const f = answer.fields;
      // REFUND means it was paid and then refunded: the payment itself still happened.
      if ((answer.tradeState === 'SUCCESS' || answer.tradeState === 'REFUND') && f.transaction_id) {
        const result = await settlePaid(em, {
          outTradeNo: order.outTradeNo,
          transactionId: f.transaction_id,
          totalFee: f.total_fee ?? '',
          timeEnd: f.time_end,
        });
        if (result.verdict === 'PAID') metrics.orderTransitions.inc({ to: 'PAID', via });
        else if (result.verdict !== 'DUPLICATE') {
          logger.error(
            { outTradeNo: order.outTradeNo, verdict: result.verdict },
            'orderquery SUCCESS could not be applied',
          );
        }
      } else if (answer.tradeState === 'CLOSED' || answer.tradeState === 'REVOKED') {
        if (await orderRepository(em).closePending(order.id)) metrics.orderTransitions.inc({ to: 'CLOSED', via });
      }
      return (await orderRepository(em).findById(order.id))!;
    },
  };
}

/** What the order row records of a failure: WeChat's err_code and text, or our code and its cause. */
function describeError(err: AppError): string {
  const { wechatErrCode, wechatErrMsg } = err.extensions;
  const text =
    typeof wechatErrCode === 'string' && wechatErrCode
      ? `${wechatErrCode}: ${typeof wechatErrMsg === 'string' ? wechatErrMsg : ''}`
      : `${err.code}: ${causeOf(err)}`;
  return text.slice(0, 255);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 200);

/** An error's cause (a summary string or an Error) when it has one, else the error itself, for a log line. */
function causeOf(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  if (typeof cause === 'string') return cause.slice(0, 200);
  if (cause instanceof Error) return messageOf(cause);
  return (JSON.stringify(cause) ?? '').slice(0, 200);
}

export async function findOwnOrder(em: EntityManager, session: Session, outTradeNo: string): Promise<Order | null> {
  return orderRepository(em).findOwn(session.userId, outTradeNo);
}

export async function listOwnOrders(em: EntityManager, session: Session, first: number): Promise<Order[]> {
  const limit = Math.min(Math.max(Math.trunc(first) || 0, 1), 100);
  return orderRepository(em).listOwn(session.userId, limit);
}
