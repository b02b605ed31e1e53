import { Migration } from '@mikro-orm/migrations';

/** Every image POST /avatar stored and the user it was issued to (setProfile accepts only the caller's own). */
export class Migration20261203130000_Avatars extends Migration {
  override name = 'Migration20261203130000_Avatars';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`avatars\` (\`id\` text not null primary key, \`user_id\` integer not null, \`format\` text not null, \`bytes\` integer not null, \`created_at\` datetime not null, constraint \`avatars_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`));`,
    );
    this.addSql(`create index \`avatars_user_id_index\` on \`avatars\` (\`user_id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`avatars\`;`);
  }
}
