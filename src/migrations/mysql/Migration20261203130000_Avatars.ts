import { Migration } from '@mikro-orm/migrations';

/** Every image POST /avatar stored and the user it was issued to (setProfile accepts only the caller's own). */
export class Migration20261203130000_Avatars extends Migration {
  override name = 'Migration20261203130000_Avatars';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`avatars\` (\`id\` varchar(32) not null, \`user_id\` int unsigned not null, \`format\` varchar(8) not null, \`bytes\` int not null, \`created_at\` datetime not null, primary key (\`id\`)) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(`alter table \`avatars\` add index \`avatars_user_id_index\` (\`user_id\`);`);
    this.addSql(
      `alter table \`avatars\` add constraint \`avatars_user_id_foreign\` foreign key (\`user_id\`) references \`users\` (\`id\`);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`avatars\`;`);
  }
}
