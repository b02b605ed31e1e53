import { Migration } from '@mikro-orm/migrations';

/** An index on refunds.status, for the sweeper's query of refunds to check (see the MySQL migration of the same name). */
export class Migration20261204110000_RefundStatusIndex extends Migration {
  override name = 'Migration20261204110000_RefundStatusIndex';

  override up(): void | Promise<void> {
    this.addSql(`create index \`refunds_status_index\` on \`refunds\` (\`status\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`refunds_status_index\`;`);
  }
}
