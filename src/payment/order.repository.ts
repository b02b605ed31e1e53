import type { EntityManager } from '@mikro-orm/core';
import { prepare, typedQueries, type TableOf } from '../core/db';
import { Order, OrderStatus } from './order.entity';

interface OrderTables {
  orders: TableOf<Order>;
}
const TABLES = { orders: Order };
const statement = <P>() => prepare<OrderTables, P>();

/** What createPayment knows of an order before WeChat hears of it. */
export type NewOrder = Pick<Order, 'outTradeNo' | 'amount' | 'description' | 'createdAt'> & { userId: number };

const INSERT_PENDING = statement<{
  outTradeNo: string;
  userId: number;
  amount: number;
  description: string | null;
  at: Date;
}>()((db, p) =>
  db.insertInto('orders').values({
    out_trade_no: p('outTradeNo'),
    user_id: p('userId'),
    amount: p('amount'),
    description: p('description'),
    status: OrderStatus.PENDING,
    refunded: 0,
    refund_count: 0,
    reconcile_tries: 0,
    created_at: p('at'),
    updated_at: p('at'),
  }),
);
const SET_PREPAY_ID = statement<{ id: number; prepayId: string; at: Date }>()((db, p) =>
  db
    .updateTable('orders')
    .set({ prepay_id: p('prepayId'), updated_at: p('at') })
    .where('id', '=', p('id')),
);
const CLOSE_PENDING = statement<{ id: number; lastError: string | null; at: Date }>()((db, p) =>
  db
    .updateTable('orders')
    .set((eb) => ({
      status: OrderStatus.CLOSED,
      last_error: eb.fn.coalesce(eb.val(p('lastError')), eb.ref('last_error')),
      updated_at: p('at'),
    }))
    .where('id', '=', p('id'))
    .where('status', '=', OrderStatus.PENDING),
);
/** The transition itself. Only a PENDING row matches, so of any number of concurrent copies exactly one gets 1. */
const MARK_PAID = statement<{ id: number; transactionId: string; paidAt: Date; at: Date }>()((db, p) =>
  db
    .updateTable('orders')
    .set({ status: OrderStatus.PAID, transaction_id: p('transactionId'), paid_at: p('paidAt'), updated_at: p('at') })
    .where('id', '=', p('id'))
    .where('status', '=', OrderStatus.PENDING),
);
const BY_ID = statement<{ id: number }>()((db, p) => db.selectFrom('orders').selectAll().where('id', '=', p('id')));
const BY_OUT_TRADE_NO = statement<{ outTradeNo: string }>()((db, p) =>
  db.selectFrom('orders').selectAll().where('out_trade_no', '=', p('outTradeNo')),
);
const OWN = statement<{ userId: number; outTradeNo: string }>()((db, p) =>
  db.selectFrom('orders').selectAll().where('out_trade_no', '=', p('outTradeNo')).where('user_id', '=', p('userId')),
);
const OWN_NEWEST = statement<{ userId: number; limit: number }>()((db, p) =>
  db.selectFrom('orders').selectAll().where('user_id', '=', p('userId')).orderBy('id', 'desc').limit(p('limit')),
);

/**
 * The orders table, through the request's EntityManager. Orders come back as detached snapshots (nothing here goes
 * through the unit of work), so a stale identity-map copy never stands in for the row a money decision reads.
 */
export function orderRepository(em: EntityManager) {
  const q = typedQueries<OrderTables>(em, TABLES);
  const one = (rows: object[]) => (rows[0] ? q.detached(Order, rows[0]) : null);

  return {
    /** A PENDING order; answers its id. */
    async insertPending(order: NewOrder): Promise<number> {
      const values = {
        outTradeNo: order.outTradeNo,
        userId: order.userId,
        amount: order.amount,
        description: order.description ?? null,
        at: q.date(order.createdAt),
      };
      return (await q.write(INSERT_PENDING, values)).insertId;
    },

    async setPrepayId(id: number, prepayId: string): Promise<void> {
      await q.write(SET_PREPAY_ID, { id, prepayId, at: q.date(new Date()) });
    },

    /** PENDING → CLOSED, with `lastError` when given; true when this call made the transition. */
    async closePending(id: number, lastError?: string | null): Promise<boolean> {
      return (
        (await q.write(CLOSE_PENDING, { id, lastError: lastError ?? null, at: q.date(new Date()) })).affectedRows === 1
      );
    },

    /**
     * PENDING → PAID: the single conditional UPDATE … WHERE status = 'PENDING'. Of any number of concurrent copies
     * (notify retries, order(refresh), on any instance) exactly one gets true. A transaction_id another order already
     * carries fails on its unique index (UniqueConstraintViolationException).
     */
    async markPaid(id: number, transactionId: string, paidAt: Date): Promise<boolean> {
      return (
        (await q.write(MARK_PAID, { id, transactionId, paidAt: q.date(paidAt), at: q.date(new Date()) }))
          .affectedRows === 1
      );
    },

    /**
     * PENDING orders created before `olderThan` whose next check is due at `now` (the sweeper), oldest first. The
     * created_at bound keeps the scan to orders old enough to matter.
     */
    async duePending(olderThan: Date, now: Date, limit: number): Promise<Order[]> {
      const rows = await q.rows(
        q.db
          .selectFrom('orders')
          .selectAll()
          .where('status', '=', OrderStatus.PENDING)
          .where('created_at', '<', q.date(olderThan))
          .where((eb) => eb.or([eb('reconcile_at', 'is', null), eb('reconcile_at', '<=', q.date(now))]))
          .orderBy('id', 'asc')
          .limit(limit),
      );
      return rows.map((row) => q.detached(Order, row));
    },

    /**
     * Claims a due check of a PENDING order for this instance: moves its next check to `next`, only if nobody did
     * since `seenTries` was read. Of any number of sweeping instances exactly one gets true.
     */
    async claimReconcile(id: number, seenTries: number, next: Date): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('orders')
          .set({ reconcile_at: q.date(next), reconcile_tries: seenTries + 1 })
          .where('id', '=', id)
          .where('status', '=', OrderStatus.PENDING)
          .where('reconcile_tries', '=', seenTries),
      );
      return affectedRows === 1;
    },

    async findById(id: number): Promise<Order | null> {
      return one(await q.rows(BY_ID, { id }));
    },

    async findByOutTradeNo(outTradeNo: string): Promise<Order | null> {
      return one(await q.rows(BY_OUT_TRADE_NO, { outTradeNo }));
    },

    /** The user's own order with this out_trade_no; another user's is null too. */
    async findOwn(userId: number, outTradeNo: string): Promise<Order | null> {
      return one(await q.rows(OWN, { userId, outTradeNo }));
    },

    /** The user's newest `limit` orders, newest first. */
    async listOwn(userId: number, limit: number): Promise<Order[]> {
      return (await q.rows(OWN_NEWEST, { userId, limit })).map((row) => q.detached(Order, row));
    },
  };
}
