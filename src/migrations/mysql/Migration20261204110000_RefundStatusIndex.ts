import { Migration } from '@mikro-orm/migrations';

/**
 * An index on refunds.status, for the sweeper's query of refunds to ask refundquery about (`dueForQuery`: PROCESSING
 * ones that are due, and CLOSED ones whose outcome WeChat never said). Without it MariaDB walks the primary key over
 * every refund, nearly all of them SUCCESS, on every sweep of every instance: 300,000 SUCCESS refunds beside 520
 * others took 77-85 ms a sweep; with it, a range read of the 520 takes 0.7 ms (bench/RESULTS.md).
 */
export class Migration20261204110000_RefundStatusIndex extends Migration {
  override name = 'Migration20261204110000_RefundStatusIndex';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`refunds\` add index \`refunds_status_index\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`refunds\` drop index \`refunds_status_index\`;`);
  }
}
