import { Migration } from '@mikro-orm/migrations';

export class Migration20261123133502_Payments extends Migration {
  override name = 'Migration20261123133502_Payments';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`payment_notifications\` (\`id\` int unsigned not null auto_increment primary key, \`received_at\` datetime not null, \`raw_body\` mediumtext not null, \`body_bytes\` int not null, \`out_trade_no\` varchar(64) null, \`transaction_id\` varchar(64) null, \`verdict\` varchar(32) not null default 'RECEIVED', \`detail\` varchar(255) null, \`processed_at\` datetime null) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(
      `alter table \`payment_notifications\` add index \`payment_notifications_out_trade_no_index\` (\`out_trade_no\`);`,
    );

    this.addSql(
      `create table \`orders\` (\`id\` int unsigned not null auto_increment primary key, \`out_trade_no\` varchar(32) not null, \`user_id\` int unsigned not null, \`amount\` int not null, \`description\` varchar(128) null, \`status\` enum('PENDING','PAID','CLOSED') not null default 'PENDING', \`prepay_id\` varchar(64) null, \`transaction_id\` varchar(32) null, \`paid_at\` datetime null, \`last_error\` varchar(255) null, \`created_at\` datetime not null, \`updated_at\` datetime not null) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(`alter table \`orders\` add unique \`orders_out_trade_no_unique\` (\`out_trade_no\`);`);
    this.addSql(`alter table \`orders\` add index \`orders_user_id_index\` (\`user_id\`);`);
    this.addSql(`alter table \`orders\` add unique \`orders_transaction_id_unique\` (\`transaction_id\`);`);

    this.addSql(
      `alter table \`orders\` add constraint \`orders_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`) on delete restrict;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`payment_notifications\`;`);
    this.addSql(`drop table if exists \`orders\`;`);
  }
}
