import { Migration } from '@mikro-orm/migrations';

/** setProfile's avatar review: each submitted upload's trace_id and result, the user's latest, and pushed results. */
export class Migration20261203140000_AvatarReview extends Migration {
  override name = 'Migration20261203140000_AvatarReview';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`media_check_results\` (\`trace_id\` text not null primary key, \`suggest\` text not null, \`label\` integer null, \`received_at\` datetime not null);`,
    );
    this.addSql(`alter table \`users\` add column \`avatar_review\` text null;`);
    this.addSql(`alter table \`users\` add column \`avatar_review_id\` text null;`);
    this.addSql(`alter table \`avatars\` add column \`trace_id\` text null;`);
    this.addSql(`alter table \`avatars\` add column \`review\` text null;`);
    this.addSql(`alter table \`avatars\` add column \`review_label\` integer null;`);
    this.addSql(`alter table \`avatars\` add column \`submitted_at\` datetime null;`);
    this.addSql(`alter table \`avatars\` add column \`reviewed_at\` datetime null;`);
    this.addSql(`create unique index \`avatars_trace_id_unique\` on \`avatars\` (\`trace_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`media_check_results\`;`);
    this.addSql(`drop index \`avatars_trace_id_unique\`;`);
    for (const column of ['trace_id', 'review', 'review_label', 'submitted_at', 'reviewed_at'])
      this.addSql(`alter table \`avatars\` drop column \`${column}\`;`);
    this.addSql(`alter table \`users\` drop column \`avatar_review\`;`);
    this.addSql(`alter table \`users\` drop column \`avatar_review_id\`;`);
  }
}
