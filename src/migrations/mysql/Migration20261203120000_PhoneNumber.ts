import { Migration } from '@mikro-orm/migrations';

/** The phone number bindPhoneNumber stores, as WeChat gives it, and its country code (utf8mb4, like the table). */
export class Migration20261203120000_PhoneNumber extends Migration {
  override name = 'Migration20261203120000_PhoneNumber';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table \`users\` add \`phone_number\` varchar(32) null, add \`phone_country_code\` varchar(8) null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`users\` drop column \`phone_number\`, drop column \`phone_country_code\`;`);
  }
}
