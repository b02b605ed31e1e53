import { Migration } from '@mikro-orm/migrations';

/** body_bytes as bigint (a size can never overflow it); an index for the sweep of rows left RECEIVED. */
export class Migration20261202110000_NotifyArchive extends Migration {
  override name = 'Migration20261202110000_NotifyArchive';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`payment_notifications\` modify \`body_bytes\` bigint not null;`);
    this.addSql(
      `alter table \`payment_notifications\` add index \`payment_notifications_verdict_received_at_index\` (\`verdict\`, \`received_at\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table \`payment_notifications\` drop index \`payment_notifications_verdict_received_at_index\`;`,
    );
    this.addSql(`alter table \`payment_notifications\` modify \`body_bytes\` int not null;`);
  }
}
