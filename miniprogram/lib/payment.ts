import { CreatePaymentDocument, OrderDocument, PaymentLimitsDocument, type OrderFieldsFragment } from '../gql/graphql';
import { ApiError, type ErrorCode, request } from './client';
import { execute } from './graphql';
import { requestPayment, sleep } from './wx-async';

export type Order = OrderFieldsFragment;

export type PayResult =
  /** The server says PAID (from WeChat's notify or its orderquery). */
  | { kind: 'paid'; order: Order }
  /** The user closed the pay sheet; the order stays PENDING and payable. */
  | { kind: 'cancelled'; order: Order }
  /** The pay sheet failed for another reason (errMsg is WeChat's). */
  | { kind: 'failed'; order: Order; errMsg: string }
  /** The pay sheet said ok but the server did not see the money before the timeout. */
  | { kind: 'unconfirmed'; order: Order }
  | { kind: 'closed'; order: Order };

export interface PollOptions {
  intervalMs: number;
  timeoutMs: number;
}

/** Errors that say nothing about the order: keep asking until the timeout. */
const TRANSIENT: readonly ErrorCode[] = [
  'NETWORK_ERROR',
  'SERVICE_UNAVAILABLE',
  'WECHAT_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
];

/**
 * createPayment → wx.requestPayment → ask the server. The pay sheet's success is not proof of payment, and its
 * failure is not proof of non-payment, so every path ends with order(refresh: true).
 */
export async function pay(fen: number, poll: PollOptions): Promise<PayResult> {
  const { createPayment } = await request(CreatePaymentDocument, { money: fen });
  const { order: created, payParams } = createPayment;
  const sheet = await requestPayment(payParams);
  if (sheet.ok) return waitUntilPaid(created, poll);
  const order = (await refreshOrder(created.outTradeNo)) ?? created;
  if (order.status === 'PAID' || order.status === 'REFUNDED') return { kind: 'paid', order };
  return sheet.cancelled ? { kind: 'cancelled', order } : { kind: 'failed', order, errMsg: sheet.errMsg };
}

/** The server's PAY_MAX_AMOUNT in fen (paymentLimits needs no token, so no login either). */
export async function loadMaxAmount(): Promise<number> {
  return (await execute(PaymentLimitsDocument, {}, undefined)).paymentLimits.maxAmount;
}

/** createPayment's refusal of the amount itself: the server's limit was passed (or changed since it was read). */
export function isAmountRefused(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'BAD_USER_INPUT' && err.extensions.field === 'money';
}

export async function refreshOrder(outTradeNo: string): Promise<Order | null> {
  return (await request(OrderDocument, { outTradeNo, refresh: true })).order;
}

/** Polls order(refresh: true) until PAID or CLOSED, or until timeoutMs has passed (then 'unconfirmed'). */
export async function waitUntilPaid(order: Order, { intervalMs, timeoutMs }: PollOptions): Promise<PayResult> {
  const deadline = Date.now() + timeoutMs;
  let last = order;
  for (;;) {
    try {
      const now = await refreshOrder(order.outTradeNo);
      if (now) last = now;
    } catch (err) {
      if (!(err instanceof ApiError) || !TRANSIENT.includes(err.code)) throw err;
    }
    // REFUNDED was PAID first: an operator refunded it before this poll saw PAID.
    if (last.status === 'PAID' || last.status === 'REFUNDED') return { kind: 'paid', order: last };
    if (last.status === 'CLOSED') return { kind: 'closed', order: last };
    if (Date.now() >= deadline) return { kind: 'unconfirmed', order: last };
    await sleep(intervalMs);
  }
}
