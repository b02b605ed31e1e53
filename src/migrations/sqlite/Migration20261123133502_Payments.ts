import { Migration } from '@mikro-orm/migrations';

export class Migration20261123133502_Payments extends Migration {
  override name = 'Migration20261123133502_Payments';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`payment_notifications\` (\`id\` integer not null primary key autoincrement, \`received_at\` datetime not null, \`raw_body\` mediumtext not null, \`body_bytes\` integer not null, \`out_trade_no\` text null, \`transaction_id\` text null, \`verdict\` text not null default 'RECEIVED', \`detail\` text null, \`processed_at\` datetime null);`,
    );
    this.addSql(
      `create index \`payment_notifications_out_trade_no_index\` on \`payment_notifications\` (\`out_trade_no\`);`,
    );

    this.addSql(
      `create table \`orders\` (\`id\` integer not null primary key autoincrement, \`out_trade_no\` text not null, \`user_id\` integer not null, \`amount\` integer not null, \`description\` text null, \`status\` text check (\`status\` in ('PENDING', 'PAID', 'CLOSED')) not null default 'PENDING', \`prepay_id\` text null, \`transaction_id\` text null, \`paid_at\` datetime null, \`last_error\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`orders_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete restrict);`,
    );
    this.addSql(`create unique index \`orders_out_trade_no_unique\` on \`orders\` (\`out_trade_no\`);`);
    this.addSql(`create index \`orders_user_id_index\` on \`orders\` (\`user_id\`);`);
    this.addSql(`create unique index \`orders_transaction_id_unique\` on \`orders\` (\`transaction_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`payment_notifications\`;`);
    this.addSql(`drop table if exists \`orders\`;`);
  }
}
