import { Migration } from '@mikro-orm/migrations';

/**
 * body_bytes declared bigint (SQLite's integer already holds 64 bits; the declaration keeps the schema equal to the
 * entities), and an index for the sweep of rows left RECEIVED. SQLite cannot alter a column: the table is rebuilt.
 */
export class Migration20261202110000_NotifyArchive extends Migration {
  override name = 'Migration20261202110000_NotifyArchive';

  override up(): void | Promise<void> {
    this.rebuild('bigint');
    this.addSql(
      `create index \`payment_notifications_verdict_received_at_index\` on \`payment_notifications\` (\`verdict\`, \`received_at\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.rebuild('integer');
  }

  private rebuild(bodyBytes: 'bigint' | 'integer') {
    this.addSql(
      `create table \`payment_notifications__temp_alter\` (\`id\` integer not null primary key autoincrement, \`received_at\` datetime not null, \`raw_body\` mediumtext not null, \`body_bytes\` ${bodyBytes} not null, \`out_trade_no\` text null, \`transaction_id\` text null, \`verdict\` text not null default 'RECEIVED', \`detail\` text null, \`processed_at\` datetime null);`,
    );
    this.addSql(
      `insert into \`payment_notifications__temp_alter\` select \`id\`, \`received_at\`, \`raw_body\`, \`body_bytes\`, \`out_trade_no\`, \`transaction_id\`, \`verdict\`, \`detail\`, \`processed_at\` from \`payment_notifications\`;`,
    );
    this.addSql(`drop table \`payment_notifications\`;`);
    this.addSql(`alter table \`payment_notifications__temp_alter\` rename to \`payment_notifications\`;`);
    this.addSql(
      `create index \`payment_notifications_out_trade_no_index\` on \`payment_notifications\` (\`out_trade_no\`);`,
    );
  }
}
