import { Migration } from '@mikro-orm/migrations';

export class Migration20261123132314_Initial extends Migration {
  override name = 'Migration20261123132314_Initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`users\` (\`id\` integer not null primary key autoincrement, \`openid\` text not null, \`unionid\` text null, \`nickname\` text null, \`avatar_url\` text null, \`gender\` integer null, \`language\` text null, \`city\` text null, \`province\` text null, \`country\` text null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`,
    );
    this.addSql(`create unique index \`users_openid_unique\` on \`users\` (\`openid\`);`);
    this.addSql(`create index \`users_unionid_index\` on \`users\` (\`unionid\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`users\`;`);
  }
}
