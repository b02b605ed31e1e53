import { MikroORM, type Options } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseTarget } from './config';
import { entities } from '../entities';
import { migrationsFor } from '../migrations';

export type Orm = MikroORM;

/**
 * ORM options for a target. The driver follows the URL's scheme; clientUrl alone does not pick it. Only that driver
 * is loaded: the other one (libsql's native library, or the MySQL client) would just sit in memory.
 */
export async function ormOptions(target: DatabaseTarget): Promise<Partial<Options>> {
  const common = {
    entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    migrations: { migrationsList: migrationsFor(target.kind), transactional: true, snapshot: false, silent: true },
    discovery: { checkDuplicateTableNames: true },
    // Entities are loaded per request through a forked EntityManager; the global one must never be used.
    allowGlobalContext: false,
    // Every flush here writes one row (an order, a profile, a notify record), so BEGIN/COMMIT around it would only
    // add two round trips; the money transition itself is a single conditional UPDATE (payment/settle.ts).
    implicitTransactions: false,
    debug: false,
  } satisfies Partial<Options>;

  if (target.kind === 'mysql') {
    return {
      ...common,
      driver: (await import('@mikro-orm/mariadb')).MariaDbDriver,
      clientUrl: target.url,
      // Tables, columns and the connection all utf8mb4, so 4-byte emoji survive byte for byte.
      charset: 'utf8mb4',
      collate: 'utf8mb4_unicode_ci',
      timezone: '+00:00',
      pool: { min: 0, max: 10 },
    };
  }
  return { ...common, driver: (await import('@mikro-orm/libsql')).LibSqlDriver, dbName: libsqlPath(target.url) };
}

function libsqlPath(url: string): string {
  if (url === ':memory:') return url;
  const path = resolve(url.replace(/^file:/, ''));
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/** Connects eagerly so a bad DATABASE_URL fails at start, not on the first request. */
export async function openDatabase(target: DatabaseTarget, migrate: boolean): Promise<Orm> {
  const orm = await MikroORM.init(await ormOptions(target));
  await orm.connect();
  if (migrate) await orm.migrator.up();
  return orm;
}
