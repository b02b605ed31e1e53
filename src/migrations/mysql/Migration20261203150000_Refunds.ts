import { Migration } from '@mikro-orm/migrations';
import { EXACT_COLLATION_QUERY } from '../../core/collation';

/** Refunds: their table, each order's reservation and sweeper bookkeeping, the notify archive's kind, REFUNDED. */
export class Migration20261203150000_Refunds extends Migration {
  override name = 'Migration20261203150000_Refunds';

  override async up(): Promise<void> {
    const [found] = await this.execute(EXACT_COLLATION_QUERY);
    if (!found)
      throw new Error('this server has no NO PAD binary utf8mb4 collation (utf8mb4_nopad_bin or utf8mb4_0900_bin)');
    const c = String(found.name);
    this.addSql(
      `create table \`refunds\` (\`id\` int unsigned not null auto_increment primary key, \`out_refund_no\` varchar(64) collate ${c} not null, \`order_id\` int unsigned not null, \`amount\` int not null, \`reason\` varchar(80) null, \`status\` enum('PROCESSING', 'SUCCESS', 'CLOSED', 'CHANGE') not null default 'PROCESSING', \`refund_id\` varchar(32) collate ${c} null, \`last_error\` varchar(255) null, \`query_at\` datetime null, \`query_tries\` int not null default 0, \`created_at\` datetime not null, \`succeeded_at\` datetime null, \`updated_at\` datetime not null) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(`alter table \`refunds\` add unique \`refunds_out_refund_no_unique\` (\`out_refund_no\`);`);
    this.addSql(`alter table \`refunds\` add index \`refunds_order_id_index\` (\`order_id\`);`);
    this.addSql(`alter table \`refunds\` add index \`refunds_query_at_index\` (\`query_at\`);`);
    this.addSql(
      `alter table \`refunds\` add constraint \`refunds_order_id_foreign\` foreign key (\`order_id\`) references \`orders\` (\`id\`) on delete restrict;`,
    );
    this.addSql(`alter table \`payment_notifications\` add \`kind\` varchar(16) not null default 'pay';`);
    this.addSql(
      `alter table \`orders\` modify \`status\` enum('PENDING', 'PAID', 'CLOSED', 'REFUNDED') not null default 'PENDING', add \`refunded\` int not null default 0, add \`refund_count\` int not null default 0, add \`reconcile_at\` datetime null, add \`reconcile_tries\` int not null default 0;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`refunds\`;`);
    this.addSql(`alter table \`payment_notifications\` drop \`kind\`;`);
    this.addSql(
      `alter table \`orders\` modify \`status\` enum('PENDING', 'PAID', 'CLOSED') not null default 'PENDING', drop \`refunded\`, drop \`refund_count\`, drop \`reconcile_at\`, drop \`reconcile_tries\`;`,
    );
  }
}
