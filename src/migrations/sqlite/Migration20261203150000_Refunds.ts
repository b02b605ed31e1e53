import { Migration } from '@mikro-orm/migrations';

/** Refunds: their table, each order's reservation and sweeper bookkeeping, the notify archive's kind, REFUNDED. */
export class Migration20261203150000_Refunds extends Migration {
  override name = 'Migration20261203150000_Refunds';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`refunds\` (\`id\` integer not null primary key autoincrement, \`out_refund_no\` text not null, \`order_id\` integer not null, \`amount\` integer not null, \`reason\` text null, \`status\` text check (\`status\` in ('PROCESSING', 'SUCCESS', 'CLOSED', 'CHANGE')) not null default 'PROCESSING', \`refund_id\` text null, \`last_error\` text null, \`query_at\` datetime null, \`query_tries\` integer not null default 0, \`created_at\` datetime not null, \`succeeded_at\` datetime null, \`updated_at\` datetime not null, constraint \`refunds_order_id_foreign\` foreign key (\`order_id\`) references \`orders\` (\`id\`) on delete restrict);`,
    );
    this.addSql(`create unique index \`refunds_out_refund_no_unique\` on \`refunds\` (\`out_refund_no\`);`);
    this.addSql(`create index \`refunds_order_id_index\` on \`refunds\` (\`order_id\`);`);
    this.addSql(`create index \`refunds_query_at_index\` on \`refunds\` (\`query_at\`);`);

    this.addSql(`alter table \`payment_notifications\` add column \`kind\` text not null default 'pay';`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`orders__temp_alter\` (\`id\` integer not null primary key autoincrement, \`out_trade_no\` text not null, \`user_id\` integer not null, \`amount\` integer not null, \`description\` text null, \`status\` text check (\`status\` in ('PENDING', 'PAID', 'CLOSED', 'REFUNDED')) not null default 'PENDING', \`prepay_id\` text null, \`transaction_id\` text null, \`paid_at\` datetime null, \`refunded\` integer not null default 0, \`refund_count\` integer not null default 0, \`reconcile_at\` datetime null, \`reconcile_tries\` integer not null default 0, \`last_error\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`orders_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete restrict);`,
    );
    this.addSql(
      `insert into \`orders__temp_alter\` select \`id\`, \`out_trade_no\`, \`user_id\`, \`amount\`, \`description\`, \`status\`, \`prepay_id\`, \`transaction_id\`, \`paid_at\`, 0 as \`refunded\`, 0 as \`refund_count\`, null as \`reconcile_at\`, 0 as \`reconcile_tries\`, \`last_error\`, \`created_at\`, \`updated_at\` from \`orders\`;`,
    );
    this.addSql(`drop table \`orders\`;`);
    this.addSql(`alter table \`orders__temp_alter\` rename to \`orders\`;`);
    this.addSql(`create unique index \`orders_out_trade_no_unique\` on \`orders\` (\`out_trade_no\`);`);
    this.addSql(`create index \`orders_user_id_index\` on \`orders\` (\`user_id\`);`);
    this.addSql(`create unique index \`orders_transaction_id_unique\` on \`orders\` (\`transaction_id\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`refunds\`;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(
      `create table \`orders__temp_alter\` (\`id\` integer not null primary key autoincrement, \`out_trade_no\` TEXT not null, \`user_id\` INTEGER not null, \`amount\` INTEGER not null, \`description\` TEXT null, \`status\` TEXT check (\`status\` in ('PENDING', 'PAID', 'CLOSED')) not null default 'PENDING', \`prepay_id\` TEXT null, \`transaction_id\` TEXT null, \`paid_at\` datetime null, \`last_error\` TEXT null, \`created_at\` datetime not null, \`updated_at\` datetime not null, constraint \`orders_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on update no action on delete restrict);`,
    );
    this.addSql(
      `insert into \`orders__temp_alter\` select \`id\`, \`out_trade_no\`, \`user_id\`, \`amount\`, \`description\`, \`status\`, \`prepay_id\`, \`transaction_id\`, \`paid_at\`, \`last_error\`, \`created_at\`, \`updated_at\` from \`orders\`;`,
    );
    this.addSql(`drop table \`orders\`;`);
    this.addSql(`alter table \`orders__temp_alter\` rename to \`orders\`;`);
    this.addSql(`create unique index \`orders_transaction_id_unique\` on \`orders\` (\`transaction_id\`);`);
    this.addSql(`create index \`orders_user_id_index\` on \`orders\` (\`user_id\`);`);
    this.addSql(`create unique index \`orders_out_trade_no_unique\` on \`orders\` (\`out_trade_no\`);`);
    this.addSql(`pragma foreign_keys = on;`);

    this.addSql(`alter table \`payment_notifications\` drop column \`kind\`;`);
  }
}
