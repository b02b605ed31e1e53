import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { AppError } from '../core/errors';
import type { Services } from '../server/context';
import type { Session } from '../auth/session';
import { User } from '../auth/user.entity';
import type { PayClient } from '../wechat/pay.client';
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

function payClient(services: Services): PayClient {
  if (!services.wechatPay) throw new AppError('PAYMENTS_DISABLED');
  return services.wechatPay;
}

/** ::ffff:1.2.3.4 → 1.2.3.4; WeChat wants the payer's plain IP. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export async function createPayment(services: Services, em: EntityManager, session: Session, money: number, clientIp: string): Promise<PaymentPayload> {
  // Every call counts, each operation of a batch too: one token once made 4,200 orders in 8 s.
  const { payPerUser, payWindowSeconds } = services.config.limits;
  await enforceRateLimit(services.rateLimits, `pay-openid:${session.openid}`, payPerUser, payWindowSeconds);
  const pay = payClient(services);
  const { maxAmount, description } = services.config.pay!;
  if (!Number.isSafeInteger(money) || money < 1 || money > maxAmount) {
    throw new AppError('BAD_USER_INPUT', `money must be an integer number of fen between 1 and ${maxAmount}.`, { field: 'money' });
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
      notifyUrl: services.notifyUrl(),
    }));
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    // Never leave an order looking payable when the client got no way to pay it.
    order.status = OrderStatus.CLOSED;
    order.lastError = describeError(err);
    await closeUnpaid(services, em, order).first;
    // After a timeout WeChat may still have created the prepay order: close it there too (best effort).
    if (err.code === 'WECHAT_UNAVAILABLE') closeAtWeChat(services, pay, order.outTradeNo);
    throw err;
  }
  try {
    await orders.setPrepayId(order.id, prepayId);
  } catch (err) {
    // WeChat holds a payable prepay order but the client gets no params: close it there and here, in the background
    // (the database may be away for a while), and answer now.
    order.lastError = err instanceof AppError ? describeError(err) : String((err as Error).message).slice(0, 255);
    closeAtWeChat(services, pay, order.outTradeNo);
    void closeUnpaid(services, em, order);
    throw err;
  }
  order.prepayId = prepayId;
  return { order, payParams: pay.requestPaymentParams(prepayId) };
}

/** PENDING → CLOSED for an order the client cannot pay, retried through a short outage of the database. */
function closeUnpaid(services: Services, em: EntityManager, order: Order) {
  return retriedWrite(
    async () => {
      const closed = await orderRepository(em).closePending(order.id, order.lastError);
      if (closed) services.metrics.orderTransitions.inc({ to: 'CLOSED', via: 'createPayment' });
    },
    (err, attempt) => services.logger.warn({ outTradeNo: order.outTradeNo, attempt, cause: String((err as Error).message).slice(0, 200) }, 'could not close the unpayable order'),
  );
}

function closeAtWeChat(services: Services, pay: PayClient, outTradeNo: string) {
  pay.closeOrder(outTradeNo).catch((e: unknown) => services.logger.warn({ outTradeNo, cause: String((e as Error).cause ?? e) }, 'closeorder after failed createPayment'));
}

function describeError(err: AppError): string {
  const wx = err.extensions.wechatErrCode;
  return (wx ? `${wx}: ${err.extensions.wechatErrMsg ?? ''}` : `${err.code}: ${String(err.cause ?? '')}`).slice(0, 255);
}

export async function findOwnOrder(em: EntityManager, session: Session, outTradeNo: string): Promise<Order | null> {
  return orderRepository(em).findOwn(session.userId, outTradeNo);
}

export async function listOwnOrders(em: EntityManager, session: Session, first: number): Promise<Order[]> {
  const limit = Math.min(Math.max(Math.trunc(first) || 0, 1), 100);
  return orderRepository(em).listOwn(session.userId, limit);
}

/**
 * order(refresh: true): a PENDING order is checked with WeChat's orderquery, and a SUCCESS answer goes through the
 * same exactly-once path as a notify — which is how a lost notify still ends PAID. An unreachable WeChat leaves the
 * order as it is (still truthfully PENDING) rather than failing the query.
 */
export async function refreshOrder(services: Services, em: EntityManager, order: Order): Promise<Order> {
  if (order.status !== OrderStatus.PENDING || !services.wechatPay) return order;
  let answer;
  try {
    answer = await services.wechatPay.orderQuery(order.outTradeNo);
  } catch (err) {
    services.logger.warn({ outTradeNo: order.outTradeNo, code: (err as AppError).code, cause: String((err as AppError).cause ?? '') }, 'orderquery failed');
    return order;
  }
  const f = answer.fields;
  // REFUND means it was paid and then refunded: the payment itself still happened.
  if ((answer.tradeState === 'SUCCESS' || answer.tradeState === 'REFUND') && f.transaction_id) {
    const result = await settlePaid(em, { outTradeNo: order.outTradeNo, transactionId: f.transaction_id, totalFee: f.total_fee ?? '', timeEnd: f.time_end });
    if (result.verdict === 'PAID') services.metrics.orderTransitions.inc({ to: 'PAID', via: 'refresh' });
    else if (result.verdict !== 'DUPLICATE') {
      services.logger.error({ outTradeNo: order.outTradeNo, verdict: result.verdict }, 'orderquery SUCCESS could not be applied');
    }
  } else if (answer.tradeState === 'CLOSED' || answer.tradeState === 'REVOKED') {
    if (await orderRepository(em).closePending(order.id)) services.metrics.orderTransitions.inc({ to: 'CLOSED', via: 'refresh' });
  }
  return (await orderRepository(em).findById(order.id))!;
}
