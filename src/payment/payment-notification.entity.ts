import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { EXACT } from '../core/collation';

/**
 * Every pay-result notify exactly as received, with the verdict we reached. Nothing WeChat sent is lost,
 * even when it is rejected: a forged or mismatched notify is evidence, not noise.
 */
@Entity({ tableName: 'payment_notifications' })
// The sweep of rows left RECEIVED looks them up by verdict and age.
@Index({ properties: ['verdict', 'receivedAt'] })
export class PaymentNotification {
  [OptionalProps]?: 'verdict' | 'receivedAt' | 'kind';

  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Property({ type: 'datetime' })
  receivedAt: Date = new Date();

  /** `pay` (POST /notify, a payment's result) or `refund` (POST /notify/refund, a refund's result). */
  @Property({ length: 16, default: 'pay' })
  kind: string = 'pay';

  /** The raw body (at most the first 64 KB when it was over the cap). */
  @Property({ type: 'text', columnType: 'mediumtext' })
  rawBody!: string;

  /** Bytes received (reading stops past the cap), so a truncated one is recognisable; bigint, so no size overflows it. */
  @Property({ type: new BigIntType('number'), columnType: 'bigint' })
  bodyBytes!: number;

  /** As sent, cut to the orders' column length (a longer one matches no order; raw_body keeps it whole). */
  @Index()
  @Property({ length: 32, nullable: true, collation: EXACT })
  outTradeNo?: string | null;

  @Property({ length: 32, nullable: true, collation: EXACT })
  transactionId?: string | null;

  /** RECEIVED until processed; then PAID, DUPLICATE or one of the rejection verdicts (see notify.service.ts). */
  @Property({ length: 32 })
  verdict: string = 'RECEIVED';

  @Property({ length: 255, nullable: true })
  detail?: string | null;

  @Property({ type: 'datetime', nullable: true })
  processedAt?: Date | null;
}
