import type { EntityManager } from '@mikro-orm/core';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { OrderStatus, type Order } from './order.entity';
import { orderRepository } from './order.repository';

export interface PaidEvidence {
  outTradeNo: string;
  transactionId: string;
  /** total_fee exactly as WeChat sent it: a string of digits, in fen. */
  totalFee: string;
  /** time_end, yyyyMMddHHmmss in China time (UTC+8). */
  timeEnd?: string;
}

export type SettleVerdict = 'PAID' | 'DUPLICATE' | 'UNKNOWN_ORDER' | 'AMOUNT_MISMATCH' | 'ORDER_CLOSED' | 'CONFLICT';

/**
 * The one path from PENDING to PAID, shared by the notify and by order(refresh). The transition is a single
 * conditional UPDATE … WHERE status = 'PENDING': whichever delivery, on whichever instance, gets affected = 1
 * made the transition; every other one sees the row already PAID and is a harmless repeat.
 */
export async function settlePaid(
  em: EntityManager,
  evidence: PaidEvidence,
): Promise<{ verdict: SettleVerdict; order?: Order }> {
  const orders = orderRepository(em);
  const order = await orders.findByOutTradeNo(evidence.outTradeNo);
  if (!order) return { verdict: 'UNKNOWN_ORDER' };
  // The exact decimal string of the amount: "010" is not 10, whatever Number() thinks.
  if (evidence.totalFee !== String(order.amount)) return { verdict: 'AMOUNT_MISMATCH', order };

  const paidAt = parseTimeEnd(evidence.timeEnd);
  let madeIt: boolean;
  try {
    madeIt = await orders.markPaid(order.id, evidence.transactionId, paidAt);
  } catch (err) {
    // Another order already carries this transaction_id: never mark a second order paid with it.
    if (err instanceof UniqueConstraintViolationException) return { verdict: 'CONFLICT', order };
    throw err;
  }
  if (madeIt) {
    // We made the transition, so the row is exactly what we wrote: no need to read it back.
    Object.assign(order, { status: OrderStatus.PAID, transactionId: evidence.transactionId, paidAt });
    return { verdict: 'PAID', order };
  }
  // Orders are never deleted, so the row is still there.
  const current = (await orders.findById(order.id))!;
  if (current.status === OrderStatus.PAID) {
    return { verdict: current.transactionId === evidence.transactionId ? 'DUPLICATE' : 'CONFLICT', order: current };
  }
  return { verdict: 'ORDER_CLOSED', order: current };
}

/** WeChat's time_end is China time without a zone; an unreadable one falls back to now. */
export function parseTimeEnd(timeEnd: string | undefined, now = new Date()): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(timeEnd ?? '');
  if (!m) return now;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h - 8, mi, s));
  return Number.isNaN(date.getTime()) ? now : date;
}
