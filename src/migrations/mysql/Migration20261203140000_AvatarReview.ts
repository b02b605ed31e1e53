import { Migration } from '@mikro-orm/migrations';
import { EXACT_COLLATION_QUERY } from '../../core/collation';

/**
 * setProfile's avatar review: each submitted upload's trace_id (compared byte for byte) and result, the user's latest
 * submission, and every pushed result kept once per trace_id.
 */
export class Migration20261203140000_AvatarReview extends Migration {
  override name = 'Migration20261203140000_AvatarReview';

  override async up(): Promise<void> {
    const [found] = await this.execute(EXACT_COLLATION_QUERY);
    if (!found)
      throw new Error('this server has no NO PAD binary utf8mb4 collation (utf8mb4_nopad_bin or utf8mb4_0900_bin)');
    const c = String(found.name);
    this.addSql(
      `create table \`media_check_results\` (\`trace_id\` varchar(64) collate ${c} not null, \`suggest\` varchar(16) not null, \`label\` int null, \`received_at\` datetime not null, primary key (\`trace_id\`)) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(
      `alter table \`users\` add \`avatar_review\` varchar(16) null, add \`avatar_review_id\` varchar(32) null;`,
    );
    this.addSql(
      `alter table \`avatars\` add \`trace_id\` varchar(64) collate ${c} null, add \`review\` varchar(16) null, add \`review_label\` int null, add \`submitted_at\` datetime null, add \`reviewed_at\` datetime null;`,
    );
    this.addSql(`alter table \`avatars\` add unique \`avatars_trace_id_unique\` (\`trace_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`media_check_results\`;`);
    this.addSql(`alter table \`avatars\` drop index \`avatars_trace_id_unique\`;`);
    this.addSql(
      `alter table \`avatars\` drop \`trace_id\`, drop \`review\`, drop \`review_label\`, drop \`submitted_at\`, drop \`reviewed_at\`;`,
    );
    this.addSql(`alter table \`users\` drop \`avatar_review\`, drop \`avatar_review_id\`;`);
  }
}
