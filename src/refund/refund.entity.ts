import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { EXACT } from '../core/collation';
import { Order } from '../payment/order.entity';

export enum RefundStatus {
  PROCESSING = 'PROCESSING',
  SUCCESS = 'SUCCESS',
  CLOSED = 'CLOSED',
  CHANGE = 'CHANGE',
}
registerEnumType(RefundStatus, {
  name: 'RefundStatus',
  description: "Where a refund stands, as WeChat Pay's refund result and refundquery report it.",
  valuesConfig: {
    PROCESSING: {
      description:
        'Reserved against the order and accepted by WeChat Pay (or being sent): the money is on its way. Counts toward the order amount.',
    },
    SUCCESS: { description: "The money reached the payer (WeChat's refund notify or refundquery said so). Final." },
    CLOSED: {
      description:
        'Nothing was refunded (WeChat refused or closed it, or could not be reached): its amount is released. Retrying with the same outRefundNo and amount sends it again.',
    },
    CHANGE: {
      description:
        "WeChat could not pay it out (the payer's account is closed or frozen): the amount stays reserved; settle it by hand in WeChat Pay's merchant platform.",
    },
  },
});

/** One refund of a paid order. Amounts are integer fen. */
@ObjectType({ description: 'One refund of a paid order, made by an operator with refund.' })
@Entity({ tableName: 'refunds' })
export class Refund {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt' | 'queryTries';

  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Field({
    description:
      'The refund number WeChat knows it by (out_refund_no): the idempotency key, unique, at most 64 of [0-9A-Za-z_-|*@], compared byte for byte.',
  })
  @Unique()
  @Property({ length: 64, collation: EXACT })
  outRefundNo!: string;

  @ManyToOne(() => Order, { deleteRule: 'restrict' })
  order!: Order;

  @Field(() => Int, { description: 'The amount refunded, in integer fen (1 = ¥0.01).' })
  @Property({ type: 'integer' })
  amount!: number;

  @Field(() => String, { nullable: true, description: 'Why, as sent to WeChat (refund_desc, shown to the payer).' })
  @Property({ length: 80, nullable: true })
  reason?: string | null;

  @Field(() => RefundStatus, { description: 'Where it stands; see RefundStatus.' })
  // The sweeper reads the PROCESSING and CLOSED refunds (dueForQuery); most rows are SUCCESS and are never read.
  @Index()
  @Enum({ items: () => RefundStatus, default: RefundStatus.PROCESSING })
  status: RefundStatus = RefundStatus.PROCESSING;

  @Field(() => String, { nullable: true, description: "WeChat Pay's refund_id once WeChat accepted it." })
  @Property({ length: 32, nullable: true, collation: EXACT })
  refundId?: string | null;

  /** The last error WeChat answered (err_code and description), for support. */
  @Property({ length: 255, nullable: true })
  lastError?: string | null;

  /** When the sweeper next asks refundquery about it while PROCESSING. */
  @Index()
  @Property({ type: 'datetime', nullable: true })
  queryAt?: Date | null;

  @Property({ type: 'integer', default: 0 })
  queryTries: number = 0;

  @Field({ description: 'When the refund was requested.' })
  @Property({ type: 'datetime', onCreate: () => new Date() })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true, description: 'When WeChat reports the money reached the payer; null before.' })
  @Property({ type: 'datetime', nullable: true })
  succeededAt?: Date | null;

  @Property({ type: 'datetime', onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
