import type { EntityManager } from '@mikro-orm/core';
import { prepare, typedQueries, type TableOf } from '../core/db';
import { PaymentNotification } from './payment-notification.entity';

interface NotificationTables {
  payment_notifications: TableOf<PaymentNotification>;
}
const TABLES = { payment_notifications: PaymentNotification };
const statement = <P>() => prepare<NotificationTables, P>();

/** A notify as it arrived: what is kept of its body, the bytes received, and what identifies it. */
export type ArrivedNotify = Pick<
  PaymentNotification,
  'receivedAt' | 'rawBody' | 'bodyBytes' | 'outTradeNo' | 'transactionId'
> & { kind?: 'pay' | 'refund' };

/** What judging a notify concluded, stored on its row. Findings left undefined keep what the row has. */
export type NotifyJudgement = Pick<PaymentNotification, 'verdict'> &
  Partial<Pick<PaymentNotification, 'outTradeNo' | 'transactionId' | 'detail'>> & { processedAt: Date };

type Arrived = {
  kind: string;
  receivedAt: Date;
  rawBody: string;
  bodyBytes: number;
  outTradeNo: string | null;
  transactionId: string | null;
};
type Judged = { verdict: string; detail: string | null; processedAt: Date };

const INSERT_RECEIVED = statement<Arrived>()((db, p) =>
  db.insertInto('payment_notifications').values({
    kind: p('kind'),
    received_at: p('receivedAt'),
    raw_body: p('rawBody'),
    body_bytes: p('bodyBytes'),
    out_trade_no: p('outTradeNo'),
    transaction_id: p('transactionId'),
    verdict: 'RECEIVED',
  }),
);
const INSERT_JUDGED = statement<Arrived & Judged>()((db, p) =>
  db.insertInto('payment_notifications').values({
    kind: p('kind'),
    received_at: p('receivedAt'),
    raw_body: p('rawBody'),
    body_bytes: p('bodyBytes'),
    out_trade_no: p('outTradeNo'),
    transaction_id: p('transactionId'),
    verdict: p('verdict'),
    detail: p('detail'),
    processed_at: p('processedAt'),
  }),
);
const RECORD_JUDGEMENT = statement<Judged & { id: number; outTradeNo: string | null; transactionId: string | null }>()(
  (db, p) =>
    db
      .updateTable('payment_notifications')
      .set((eb) => ({
        out_trade_no: eb.fn.coalesce(eb.val(p('outTradeNo')), eb.ref('out_trade_no')),
        transaction_id: eb.fn.coalesce(eb.val(p('transactionId')), eb.ref('transaction_id')),
        detail: eb.fn.coalesce(eb.val(p('detail')), eb.ref('detail')),
        verdict: p('verdict'),
        processed_at: p('processedAt'),
      }))
      .where('id', '=', p('id')),
);
const SETTLE_STRANDED = statement<{ before: Date; detail: string; at: Date }>()((db, p) =>
  db
    .updateTable('payment_notifications')
    .set({ verdict: 'ERROR', detail: p('detail'), processed_at: p('at') })
    .where('verdict', '=', 'RECEIVED')
    .where('received_at', '<', p('before')),
);

/** The archive of pay-result and refund-result notifies (payment_notifications, by kind), through the request's EntityManager. */
export function notificationRepository(em: EntityManager) {
  const q = typedQueries<NotificationTables>(em, TABLES);
  const arrived = (n: ArrivedNotify): Arrived => ({
    kind: n.kind ?? 'pay',
    receivedAt: q.date(n.receivedAt),
    rawBody: n.rawBody,
    bodyBytes: n.bodyBytes,
    outTradeNo: n.outTradeNo ?? null,
    transactionId: n.transactionId ?? null,
  });

  return {
    /** A notify about to be acted on, RECEIVED until judged; answers its id. */
    async insertReceived(n: ArrivedNotify): Promise<number> {
      return (await q.write(INSERT_RECEIVED, arrived(n))).insertId;
    },

    /** A notify judged before anything was acted on: one row, already final. */
    async insertJudged(n: ArrivedNotify, judged: NotifyJudgement): Promise<void> {
      await q.write(INSERT_JUDGED, {
        ...arrived(n),
        verdict: judged.verdict,
        detail: judged.detail ?? null,
        processedAt: q.date(judged.processedAt),
      });
    },

    async recordJudgement(id: number, judged: NotifyJudgement): Promise<void> {
      await q.write(RECORD_JUDGEMENT, {
        id,
        outTradeNo: judged.outTradeNo ?? null,
        transactionId: judged.transactionId ?? null,
        detail: judged.detail ?? null,
        verdict: judged.verdict,
        processedAt: q.date(judged.processedAt),
      });
    },

    /** Rows still RECEIVED that arrived before `before` become ERROR with `detail`; answers how many. */
    async settleStranded(before: Date, detail: string): Promise<number> {
      return (await q.write(SETTLE_STRANDED, { before: q.date(before), detail, at: q.date(new Date()) })).affectedRows;
    },
  };
}
