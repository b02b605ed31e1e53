import type { EntityManager } from '@mikro-orm/core';
import { typedQueries, type TableOf } from '../core/db';
import { Order, OrderStatus } from '../payment/order.entity';
import { Refund, RefundStatus } from './refund.entity';

interface RefundTables {
  refunds: TableOf<Refund>;
  orders: TableOf<Order>;
}
const TABLES = { refunds: Refund, orders: Order };

/** WeChat takes at most this many refunds per order. */
export const MAX_REFUNDS_PER_ORDER = 50;

/** A CLOSED refund whose call ended without WeChat's word (last_error starting with one of these) is asked about again. */
export const UNKNOWN_OUTCOMES = ['WECHAT_UNAVAILABLE', 'SYSTEMERROR', 'BIZERR_NEED_RETRY'] as const;
/** How many refundquery checks such a refund gets (on the sweeper's backoff) before it is left CLOSED. */
const UNKNOWN_OUTCOME_QUERIES = 4;

/**
 * The order a refund read through this repository belongs to. Its rows come back as detached snapshots, in which a
 * relation is the bare foreign key (typedQueries' `detached`): `refund.order` holds the order's id, typed as Order.
 */
export function orderIdOf(refund: Refund): number {
  return refund.order as unknown as number;
}

/** The refunds table and the orders' refund reservation, through the request's EntityManager (or its transaction). */
export function refundRepository(em: EntityManager) {
  const q = typedQueries<RefundTables>(em, TABLES);
  const now = () => q.date(new Date());
  const one = (rows: object[]) => (rows[0] ? q.detached(Refund, rows[0]) : null);

  return {
    /**
     * The reservation: the order's reserved sum grows by `amount` only if it stays within the order's amount and the
     * order is PAID with fewer than 50 refunds. One conditional UPDATE, so two instances can never both pass a check
     * the other's reservation would fail. False: nothing was reserved.
     */
    async reserve(orderId: number, amount: number): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('orders')
          .set((eb) => ({
            refunded: eb('refunded', '+', amount),
            refund_count: eb('refund_count', '+', 1),
            updated_at: now(),
          }))
          .where('id', '=', orderId)
          .where('status', '=', OrderStatus.PAID)
          .where((eb) => eb(eb('refunded', '+', amount), '<=', eb.ref('amount')))
          .where('refund_count', '<', MAX_REFUNDS_PER_ORDER),
      );
      return affectedRows === 1;
    },

    /**
     * Moves the reservation by `amount` and the count by one, unconditionally: -amount gives a CLOSED refund's back;
     * +amount records a refund we had CLOSED (its call timed out) that WeChat reports made, since what WeChat paid out
     * is a fact the ledger must show.
     */
    async adjust(orderId: number, amount: number): Promise<void> {
      await q.write(
        q.db
          .updateTable('orders')
          .set((eb) => ({
            refunded: eb('refunded', '+', amount),
            refund_count: eb('refund_count', '+', Math.sign(amount)),
            updated_at: now(),
          }))
          .where('id', '=', orderId),
      );
    },

    /** PAID → REFUNDED once the order's SUCCESS refunds add up to its amount. */
    async markRefundedIfWhole(orderId: number): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('orders')
          .set({ status: OrderStatus.REFUNDED, updated_at: now() })
          .where('id', '=', orderId)
          .where('status', '=', OrderStatus.PAID)
          .where((eb) =>
            eb(
              eb
                .selectFrom('refunds')
                .select((s) => s.fn.coalesce(s.fn.sum<number>('refunds.amount'), s.lit(0)).as('s'))
                .where('refunds.order_id', '=', orderId)
                .where('refunds.status', '=', RefundStatus.SUCCESS),
              '>=',
              eb.ref('orders.amount'),
            ),
          ),
      );
      return affectedRows === 1;
    },

    /** A new PROCESSING refund; answers its id. Fails on its unique out_refund_no when the key is taken. */
    async insert(refund: {
      outRefundNo: string;
      orderId: number;
      amount: number;
      reason: string | null;
    }): Promise<number> {
      const at = now();
      return (
        await q.write(
          q.db.insertInto('refunds').values({
            out_refund_no: refund.outRefundNo,
            order_id: refund.orderId,
            amount: refund.amount,
            reason: refund.reason,
            status: RefundStatus.PROCESSING,
            query_tries: 0,
            created_at: at,
            updated_at: at,
          }),
        )
      ).insertId;
    },

    async findByOutRefundNo(outRefundNo: string): Promise<Refund | null> {
      return one(await q.rows(q.db.selectFrom('refunds').selectAll().where('out_refund_no', '=', outRefundNo)));
    },

    async findById(id: number): Promise<Refund | null> {
      return one(await q.rows(q.db.selectFrom('refunds').selectAll().where('id', '=', id)));
    },

    /** An order's refunds, oldest first. */
    async listForOrder(orderId: number): Promise<Refund[]> {
      const rows = await q.rows(
        q.db.selectFrom('refunds').selectAll().where('order_id', '=', orderId).orderBy('id', 'asc'),
      );
      return rows.map((row) => q.detached(Refund, row));
    },

    /**
     * WeChat accepted it: its refund_id (the refund stays PROCESSING until its result), and when the sweeper may first
     * ask about it now that no call is in flight.
     */
    async setRefundId(id: number, refundId: string, queryAt: Date): Promise<void> {
      await q.write(
        q.db
          .updateTable('refunds')
          .set({ refund_id: refundId, query_at: q.date(queryAt), updated_at: now() })
          .where('id', '=', id),
      );
    },

    /** `from` → `to`, once: false when the refund was not in one of the `from` states. */
    async transition(
      id: number,
      from: readonly RefundStatus[],
      to: RefundStatus,
      extra: { refundId?: string; succeededAt?: Date; lastError?: string | null; unaccepted?: boolean } = {},
    ): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('refunds')
          .set({
            status: to,
            ...(extra.refundId ? { refund_id: extra.refundId } : {}),
            ...(extra.succeededAt ? { succeeded_at: q.date(extra.succeededAt) } : {}),
            ...(extra.lastError !== undefined ? { last_error: extra.lastError?.slice(0, 255) ?? null } : {}),
            updated_at: now(),
          })
          .where('id', '=', id)
          .where('status', 'in', from)
          // Only while WeChat never accepted it: a refund_id set meanwhile (a parallel send) means it was made.
          .$if(extra.unaccepted === true, (qb) => qb.where('refund_id', 'is', null)),
      );
      return affectedRows === 1;
    },

    /** Keeps the sweeper's refundquery away until `at`: a call to WeChat for this refund is about to be made. */
    async deferQuery(id: number, at: Date): Promise<void> {
      await q.write(
        q.db
          .updateTable('refunds')
          .set({ query_at: q.date(at) })
          .where('id', '=', id),
      );
    },

    /**
     * Refunds whose refundquery is due at `now` (the sweeper), oldest first: PROCESSING ones (first asked once older than
     * `olderThan`), and CLOSED ones whose call failed without an answer (timed out, or WeChat's retryable errors), a few
     * times, since WeChat may have made them anyway.
     */
    async dueForQuery(now: Date, olderThan: Date, limit: number): Promise<Refund[]> {
      const rows = await q.rows(
        q.db
          .selectFrom('refunds')
          .selectAll()
          .where((eb) =>
            eb.or([
              eb.and([
                eb('status', '=', RefundStatus.PROCESSING),
                eb.or([
                  eb('query_at', '<=', q.date(now)),
                  eb.and([eb('query_at', 'is', null), eb('created_at', '<=', q.date(olderThan))]),
                ]),
              ]),
              eb.and([
                eb('status', '=', RefundStatus.CLOSED),
                eb('query_tries', '<', UNKNOWN_OUTCOME_QUERIES),
                eb.or(UNKNOWN_OUTCOMES.map((code) => eb('last_error', 'like', `${code}%`))),
                eb.or([eb('query_at', 'is', null), eb('query_at', '<=', q.date(now))]),
              ]),
            ]),
          )
          .orderBy('id', 'asc')
          .limit(limit),
      );
      return rows.map((row) => q.detached(Refund, row));
    },

    /**
     * Claims a refund's due refundquery for this instance: pushes its next check out, only if nobody did since
     * `seenTries` was read. Exactly one instance gets true.
     */
    async claimQuery(id: number, seenTries: number, next: Date): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('refunds')
          .set({ query_at: q.date(next), query_tries: seenTries + 1 })
          .where('id', '=', id)
          .where('query_tries', '=', seenTries),
      );
      return affectedRows === 1;
    },
  };
}

export type RefundRepository = ReturnType<typeof refundRepository>;
