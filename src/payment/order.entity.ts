import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { User } from '../auth/user.entity';
import { EXACT } from '../core/collation';

export enum OrderStatus {
  PENDING = 'PENDING',
  PAID = 'PAID',
  CLOSED = 'CLOSED',
  REFUNDED = 'REFUNDED',
}
registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description:
    'PENDING until WeChat confirms payment; PAID exactly once; CLOSED when it can no longer be paid (final); REFUNDED once successful refunds reach the amount (final).',
  valuesConfig: {
    PENDING: {
      description:
        'Created and not known to be paid: wx.requestPayment may still pay it. After paying, order(refresh: true) asks WeChat if the notify is late.',
    },
    PAID: {
      description:
        'WeChat confirmed the payment of exactly `amount` (by a signed notify or orderquery); transactionId and paidAt are set. Partial refunds leave it PAID (see refundedAmount).',
    },
    CLOSED: {
      description:
        'Can no longer be paid: WeChat refused or could not create the prepay order (createPayment failed), WeChat reports it closed or revoked, or nobody paid it within PAY_ORDER_TTL_SECONDS (closed at WeChat too). Final: create a new payment to retry.',
    },
    REFUNDED: {
      description: 'Paid, then refunded in full: the successful refunds add up to `amount`. Final.',
    },
  },
});

/** One payment attempt. Amounts are integer fen (1 = ¥0.01). */
@ObjectType({
  description:
    'One payment attempt by the caller, made by createPayment. Only its owner reads it (orders, order, createPayment).',
})
@Entity({ tableName: 'orders' })
export class Order {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt' | 'refunded' | 'refundCount' | 'reconcileTries';

  @Field(() => ID, { description: "This server's id for the order." })
  @PrimaryKey({ autoincrement: true })
  id!: number;

  /**
   * Our order number as WeChat knows it: at most 32 of [0-9A-Za-z_-]. Identifiers compare byte for byte (EXACT), so a
   * notify or a lookup for `abc`, `ABC ` or `Abc` never finds order `Abc`. WeChat's lengths: out_trade_no and
   * transaction_id 32, prepay_id 64, the same in every table.
   */
  @Field({
    description:
      'Our order number as WeChat Pay knows it (out_trade_no): unique, at most 32 of [0-9A-Za-z_-], compared byte for byte. Look the order up with order(outTradeNo:).',
  })
  @Unique()
  @Property({ length: 32, collation: EXACT })
  outTradeNo!: string;

  @ManyToOne(() => User, { deleteRule: 'restrict' })
  user!: User;

  @Field(() => Int, {
    description:
      "The amount in integer fen: 1 = ¥0.01, 100 = ¥1.00. WeChat's total_fee must equal it for the order to become PAID.",
  })
  @Property({ type: 'integer' })
  amount!: number;

  @Field(() => String, {
    nullable: true,
    description:
      "The goods description sent to WeChat Pay as `body` (the server's PAY_DESCRIPTION), at most 128 characters.",
  })
  @Property({ length: 128, nullable: true })
  description?: string | null;

  @Field(() => OrderStatus, { description: 'Where the order stands; see OrderStatus.' })
  // The sweeper reads the PENDING orders in id order (duePending); InnoDB's secondary index carries the id.
  @Index()
  @Enum({ items: () => OrderStatus, default: OrderStatus.PENDING })
  status: OrderStatus = OrderStatus.PENDING;

  @Property({ length: 64, nullable: true, collation: EXACT })
  prepayId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "WeChat Pay's transaction_id, set when the order became PAID; null before. Quote it to WeChat Pay support.",
  })
  @Unique()
  @Property({ length: 32, nullable: true, collation: EXACT })
  transactionId?: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the payment completed, as WeChat Pay reports it (time_end); set when the order became PAID, null before.',
  })
  @Property({ type: 'datetime', nullable: true })
  paidAt?: Date | null;

  /**
   * The refunds reserved against this order, in fen: every refund that is not CLOSED. The one conditional UPDATE
   * that raises it (refunded + ? <= amount) is what keeps refunds within the amount on any number of instances.
   */
  @Property({ type: 'integer', default: 0 })
  refunded: number = 0;

  /** Refunds that are not CLOSED: WeChat takes at most 50 per order. */
  @Property({ type: 'integer', default: 0 })
  refundCount: number = 0;

  /** When the sweeper next asks WeChat about this PENDING order (orderquery with backoff); null: at its first sweep. */
  @Property({ type: 'datetime', nullable: true })
  reconcileAt?: Date | null;

  /** How many times the sweeper asked WeChat about it. */
  @Property({ type: 'integer', default: 0 })
  reconcileTries: number = 0;

  /** The last error WeChat answered for this order (err_code and description), for support. */
  @Property({ length: 255, nullable: true })
  lastError?: string | null;

  @Field({ description: 'When createPayment created the order.' })
  @Property({ type: 'datetime', onCreate: () => new Date() })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
