import { Migration } from '@mikro-orm/migrations';

/** An index on orders.status, for the sweeper's query of PENDING orders (see the MySQL migration of the same name). */
export class Migration20261204100000_OrderStatusIndex extends Migration {
  override name = 'Migration20261204100000_OrderStatusIndex';

  override up(): void | Promise<void> {
    this.addSql(`create index \`orders_status_index\` on \`orders\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`orders_status_index\`;`);
  }
}
