import { Migration } from '@mikro-orm/migrations';

/**
 * An index on orders.status, for the sweeper's query of PENDING orders (`duePending`: WHERE status = 'PENDING' …
 * ORDER BY id LIMIT 50). Without it MariaDB walks the primary key until it has found 50, which on a table of paid
 * orders is every row, every sweep, on every instance (bench/RESULTS.md, "At a million users"). InnoDB keeps the
 * primary key in every secondary index, so (status) alone also hands back the PENDING rows in id order.
 */
export class Migration20261204100000_OrderStatusIndex extends Migration {
  override name = 'Migration20261204100000_OrderStatusIndex';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`orders\` add index \`orders_status_index\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`orders\` drop index \`orders_status_index\`;`);
  }
}
