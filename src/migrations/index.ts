import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123132313_Initial as MysqlInitial } from './mysql/Migration20261123132313_Initial';
import { Migration20261123132314_Initial as SqliteInitial } from './sqlite/Migration20261123132314_Initial';
import { Migration20261123133502_Payments as MysqlPayments } from './mysql/Migration20261123133502_Payments';
import { Migration20261123133502_Payments as SqlitePayments } from './sqlite/Migration20261123133502_Payments';
import { Migration20261202100000_ExactIdentifiers as MysqlExactIdentifiers } from './mysql/Migration20261202100000_ExactIdentifiers';
import { Migration20261202100000_ExactIdentifiers as SqliteExactIdentifiers } from './sqlite/Migration20261202100000_ExactIdentifiers';
import { Migration20261202110000_NotifyArchive as MysqlNotifyArchive } from './mysql/Migration20261202110000_NotifyArchive';
import { Migration20261202110000_NotifyArchive as SqliteNotifyArchive } from './sqlite/Migration20261202110000_NotifyArchive';
import { Migration20261203120000_PhoneNumber as MysqlPhoneNumber } from './mysql/Migration20261203120000_PhoneNumber';
import { Migration20261203120000_PhoneNumber as SqlitePhoneNumber } from './sqlite/Migration20261203120000_PhoneNumber';
import { Migration20261203130000_Avatars as MysqlAvatars } from './mysql/Migration20261203130000_Avatars';
import { Migration20261203130000_Avatars as SqliteAvatars } from './sqlite/Migration20261203130000_Avatars';
import { Migration20261203140000_AvatarReview as MysqlAvatarReview } from './mysql/Migration20261203140000_AvatarReview';
import { Migration20261203140000_AvatarReview as SqliteAvatarReview } from './sqlite/Migration20261203140000_AvatarReview';
import { Migration20261203150000_Refunds as MysqlRefunds } from './mysql/Migration20261203150000_Refunds';
import { Migration20261203150000_Refunds as SqliteRefunds } from './sqlite/Migration20261203150000_Refunds';
import { Migration20261204100000_OrderStatusIndex as MysqlOrderStatusIndex } from './mysql/Migration20261204100000_OrderStatusIndex';
import { Migration20261204100000_OrderStatusIndex as SqliteOrderStatusIndex } from './sqlite/Migration20261204100000_OrderStatusIndex';
import { Migration20261204110000_RefundStatusIndex as MysqlRefundStatusIndex } from './mysql/Migration20261204110000_RefundStatusIndex';
import { Migration20261204110000_RefundStatusIndex as SqliteRefundStatusIndex } from './sqlite/Migration20261204110000_RefundStatusIndex';

/**
 * Migrations are listed explicitly rather than globbed from disk, so the same list works from
 * TypeScript (tests) and from dist/ (npm start). Each dialect has its own folder because the SQL differs.
 * `npm run migrate -- create <Name>` writes the next one from the entities; add it to both lists here.
 */
const mysql: MigrationObject[] = [
  { name: 'Migration20261123132313_Initial', class: MysqlInitial },
  { name: 'Migration20261123133502_Payments', class: MysqlPayments },
  { name: 'Migration20261202100000_ExactIdentifiers', class: MysqlExactIdentifiers },
  { name: 'Migration20261202110000_NotifyArchive', class: MysqlNotifyArchive },
  { name: 'Migration20261203120000_PhoneNumber', class: MysqlPhoneNumber },
  { name: 'Migration20261203130000_Avatars', class: MysqlAvatars },
  { name: 'Migration20261203140000_AvatarReview', class: MysqlAvatarReview },
  { name: 'Migration20261203150000_Refunds', class: MysqlRefunds },
  { name: 'Migration20261204100000_OrderStatusIndex', class: MysqlOrderStatusIndex },
  { name: 'Migration20261204110000_RefundStatusIndex', class: MysqlRefundStatusIndex },
];
const sqlite: MigrationObject[] = [
  { name: 'Migration20261123132314_Initial', class: SqliteInitial },
  { name: 'Migration20261123133502_Payments', class: SqlitePayments },
  { name: 'Migration20261202100000_ExactIdentifiers', class: SqliteExactIdentifiers },
  { name: 'Migration20261202110000_NotifyArchive', class: SqliteNotifyArchive },
  { name: 'Migration20261203120000_PhoneNumber', class: SqlitePhoneNumber },
  { name: 'Migration20261203130000_Avatars', class: SqliteAvatars },
  { name: 'Migration20261203140000_AvatarReview', class: SqliteAvatarReview },
  { name: 'Migration20261203150000_Refunds', class: SqliteRefunds },
  { name: 'Migration20261204100000_OrderStatusIndex', class: SqliteOrderStatusIndex },
  { name: 'Migration20261204110000_RefundStatusIndex', class: SqliteRefundStatusIndex },
];

export function migrationsFor(kind: 'mysql' | 'libsql'): MigrationObject[] {
  return kind === 'mysql' ? mysql : sqlite;
}
