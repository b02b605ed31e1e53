import { Migration } from '@mikro-orm/migrations';

/** The phone number bindPhoneNumber stores, as WeChat gives it, and its country code. */
export class Migration20261203120000_PhoneNumber extends Migration {
  override name = 'Migration20261203120000_PhoneNumber';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`users\` add column \`phone_number\` text null;`);
    this.addSql(`alter table \`users\` add column \`phone_country_code\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`users\` drop column \`phone_number\`;`);
    this.addSql(`alter table \`users\` drop column \`phone_country_code\`;`);
  }
}
