import { Migration } from '@mikro-orm/migrations';
import { EXACT_COLLATION_QUERY } from '../../core/collation';

/**
 * Identifiers compare byte for byte: utf8mb4_unicode_ci let a signed notify for a lowercased or space-padded
 * out_trade_no pay the real order. The NO PAD binary collation is utf8mb4_nopad_bin on MariaDB and utf8mb4_0900_bin
 * on MySQL 8. out_trade_no and transaction_id are 32 (WeChat's length) in both tables; archived notify values past 32
 * are cut first (their raw_body keeps them whole).
 */
export class Migration20261202100000_ExactIdentifiers extends Migration {
  override name = 'Migration20261202100000_ExactIdentifiers';

  override async up(): Promise<void> {
    const [found] = await this.execute(EXACT_COLLATION_QUERY);
    if (!found)
      throw new Error('this server has no NO PAD binary utf8mb4 collation (utf8mb4_nopad_bin or utf8mb4_0900_bin)');
    const c = String(found.name);
    this.addSql(
      `update \`payment_notifications\` set \`out_trade_no\` = left(\`out_trade_no\`, 32) where char_length(\`out_trade_no\`) > 32;`,
    );
    this.addSql(
      `update \`payment_notifications\` set \`transaction_id\` = left(\`transaction_id\`, 32) where char_length(\`transaction_id\`) > 32;`,
    );
    this.addSql(
      `alter table \`users\` modify \`openid\` varchar(64) collate ${c} not null, modify \`unionid\` varchar(64) collate ${c} null;`,
    );
    this.addSql(
      `alter table \`orders\` modify \`out_trade_no\` varchar(32) collate ${c} not null, modify \`prepay_id\` varchar(64) collate ${c} null, modify \`transaction_id\` varchar(32) collate ${c} null;`,
    );
    this.addSql(
      `alter table \`payment_notifications\` modify \`out_trade_no\` varchar(32) collate ${c} null, modify \`transaction_id\` varchar(32) collate ${c} null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table \`payment_notifications\` modify \`out_trade_no\` varchar(64) collate utf8mb4_unicode_ci null, modify \`transaction_id\` varchar(64) collate utf8mb4_unicode_ci null;`,
    );
    this.addSql(
      `alter table \`orders\` modify \`out_trade_no\` varchar(32) collate utf8mb4_unicode_ci not null, modify \`prepay_id\` varchar(64) collate utf8mb4_unicode_ci null, modify \`transaction_id\` varchar(32) collate utf8mb4_unicode_ci null;`,
    );
    this.addSql(
      `alter table \`users\` modify \`openid\` varchar(64) collate utf8mb4_unicode_ci not null, modify \`unionid\` varchar(64) collate utf8mb4_unicode_ci null;`,
    );
  }
}
