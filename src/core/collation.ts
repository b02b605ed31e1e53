import type { EntityMetadata } from '@mikro-orm/core';

/**
 * The collation of identifier columns (openid, unionid, out_trade_no, transaction_id, prepay_id): byte for byte.
 * `utf8mb4_unicode_ci` let a signed notify for a lowercased or space-padded order number pay the real order, and
 * `utf8mb4_bin` still ignores trailing spaces (it is PAD SPACE), so the NO PAD binary collation it is. MySQL 8 names
 * it `utf8mb4_0900_bin`; the migration uses whichever the server has (EXACT_COLLATION_QUERY).
 */
export const EXACT = 'utf8mb4_nopad_bin';

/** The server's NO PAD binary utf8mb4 collation, MariaDB's name first, read with its VERSION() (for the startup line). */
export const EXACT_COLLATION_QUERY =
  "select version() as version, (select collation_name from information_schema.collations where collation_name in ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') order by collation_name = 'utf8mb4_nopad_bin' desc limit 1) as name";

/**
 * The entities name MariaDB's collation; on a server that has only MySQL 8's name for it, the metadata takes that one,
 * so a schema diff or `schema:update` against MySQL 8 neither fails on an unknown collation nor reports a change.
 */
export function useServerCollation(metas: Iterable<EntityMetadata>, serverName: string | undefined): void {
  if (!serverName || serverName === EXACT) return;
  for (const meta of metas) for (const prop of meta.props) if (prop.collation === EXACT) prop.collation = serverName;
}

/**
 * SQLite compares text with BINARY unless a column says otherwise, and knows no utf8mb4_* names: its identifier
 * columns carry no collation, and the entities' MySQL one is dropped from its metadata so the schemas agree.
 */
export function dropMysqlCollations(meta: EntityMetadata): void {
  for (const prop of meta.props) if (prop.collation?.startsWith('utf8mb4_')) delete prop.collation;
}
