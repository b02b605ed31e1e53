import { Migration } from '@mikro-orm/migrations';

export class Migration20261123132313_Initial extends Migration {
  override name = 'Migration20261123132313_Initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`users\` (\`id\` int unsigned not null auto_increment primary key, \`openid\` varchar(64) not null, \`unionid\` varchar(64) null, \`nickname\` varchar(255) null, \`avatar_url\` varchar(1024) null, \`gender\` smallint null, \`language\` varchar(32) null, \`city\` varchar(128) null, \`province\` varchar(128) null, \`country\` varchar(128) null, \`created_at\` datetime not null, \`updated_at\` datetime not null) default character set utf8mb4 collate utf8mb4_unicode_ci engine = InnoDB;`,
    );
    this.addSql(`alter table \`users\` add unique \`users_openid_unique\` (\`openid\`);`);
    this.addSql(`alter table \`users\` add index \`users_unionid_index\` (\`unionid\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`users\`;`);
  }
}
