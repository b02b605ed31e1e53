import { Migration } from '@mikro-orm/migrations';

/**
 * Nothing to change: SQLite compares text with BINARY (byte for byte, trailing spaces count) unless a column says
 * otherwise, and its text columns have no length. Kept so both dialects list the same migrations.
 */
export class Migration20261202100000_ExactIdentifiers extends Migration {
  override name = 'Migration20261202100000_ExactIdentifiers';

  override up(): void | Promise<void> {}

  override down(): void | Promise<void> {}
}
