import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { User } from '../auth/user.entity';
import { EXACT } from '../core/collation';

export enum OrderStatus {
  PENDING = 'PENDING',
  PAID = 'PAID',
  CLOSED = 'CLOSED',
}
registerEnumType(OrderStatus, { name: 'OrderStatus', description: 'PENDING until WeChat confirms payment; PAID exactly once; CLOSED when it can no longer be paid.' });

/** One payment attempt. Amounts are integer fen (1 = ¥0.01). */
@ObjectType()
@Entity({ tableName: 'orders' })
export class Order {
  [OptionalProps]?: 'status' | 'createdAt' | 'updatedAt';

  @Field(() => ID)
  @PrimaryKey({ autoincrement: true })
  id!: number;

  /**
   * Our order number as WeChat knows it: at most 32 of [0-9A-Za-z_-]. Identifiers compare byte for byte (EXACT), so a
   * notify or a lookup for `abc`, `ABC ` or `Abc` never finds order `Abc`. WeChat's lengths: out_trade_no and
   * transaction_id 32, prepay_id 64, the same in every table.
   */
  @Field()
  @Unique()
  @Property({ length: 32, collation: EXACT })
  outTradeNo!: string;

  @ManyToOne(() => User, { deleteRule: 'restrict' })
  user!: User;

  @Field(() => Int, { description: 'Integer fen: 1 = ¥0.01.' })
  @Property({ type: 'integer' })
  amount!: number;

  @Field(() => String, { nullable: true })
  @Property({ length: 128, nullable: true })
  description?: string | null;

  @Field(() => OrderStatus)
  @Enum({ items: () => OrderStatus, default: OrderStatus.PENDING })
  status: OrderStatus = OrderStatus.PENDING;

  @Property({ length: 64, nullable: true, collation: EXACT })
  prepayId?: string | null;

  @Field(() => String, { nullable: true })
  @Unique()
  @Property({ length: 32, nullable: true, collation: EXACT })
  transactionId?: string | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'datetime', nullable: true })
  paidAt?: Date | null;

  /** The last error WeChat answered for this order (err_code and description), for support. */
  @Property({ length: 255, nullable: true })
  lastError?: string | null;

  @Field()
  @Property({ type: 'datetime', onCreate: () => new Date() })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
