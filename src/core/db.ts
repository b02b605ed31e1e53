import { MikroORM, type EntityManager, type Options } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseTarget } from './config';
import { dropMysqlCollations } from './collation';
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
  return {
    ...common,
    driver: (await import('@mikro-orm/libsql')).LibSqlDriver,
    dbName: libsqlPath(target.url),
    discovery: { ...common.discovery, onMetadata: dropMysqlCollations },
  };
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

/**
 * Now, in whole seconds. MySQL's datetime keeps no fraction (MySQL rounds, MariaDB truncates), so a row written with
 * this answers with exactly what is read back later, on every dialect.
 */
export function wholeSecondsNow(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

/** What a write statement reports. */
export interface RunResult {
  affectedRows: number;
  insertId: number;
}

/**
 * Fixed SQL statements through the request's EntityManager: its connection and transaction, its escaping, its
 * driver exceptions (e.g. UniqueConstraintViolationException), with dates converted the way the ORM stores them on
 * this platform. For the hot paths only: building the same one-row statement through MikroORM's query builder or a
 * flush cost 150–350 µs of CPU every time (bench/RESULTS.md), which the load of a campaign or a sale pays per request.
 * The statements must be valid on both dialects: backquoted names and `?` placeholders are.
 */
export function sqlOf(em: EntityManager) {
  const platform = em.getPlatform();
  const exec = async (sql: string, params: readonly unknown[], method: 'all' | 'run') => {
    const values = params.map((v) => (v instanceof Date ? platform.processDateProperty(v) : v));
    try {
      return await em.getConnection().execute(sql, values, method, em.getTransactionContext());
    } catch (err) {
      throw em.getDriver().convertException(err as Error);
    }
  };
  return {
    all: async <T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => (await exec(sql, params, 'all')) as T[],
    run: async (sql: string, params: readonly unknown[] = []) => (await exec(sql, params, 'run')) as RunResult,
    /**
     * UPDATE one row of `entity` by id: `set` is keyed by property, and the table and column names come from the
     * entity's metadata (never from input). Undefined values are left out, as the unit of work would.
     */
    update: async <T extends object>(entity: new () => T, id: number, set: Partial<T>) => {
      const meta = em.getMetadata().get(entity);
      const keys = (Object.keys(set) as (keyof T & string)[]).filter((k) => set[k] !== undefined);
      const columns = keys.map((k) => {
        const prop = meta.properties[k];
        if (!prop) throw new Error(`${entity.name} has no property ${k}`);
        return `\`${prop.fieldNames[0]}\` = ?`;
      });
      const sql = `update \`${meta.tableName}\` set ${columns.join(', ')} where \`id\` = ?`;
      return (await exec(sql, [...keys.map((k) => set[k]), id], 'run')) as RunResult;
    },
    /**
     * A row as a detached snapshot of `entity`: a plain object with its properties (column names mapped, types
     * converted), not an entity instance. Entity instances define an accessor per property as they are assigned
     * (~4 KB and a dozen defineProperty calls a row); a snapshot that is only read and answered needs none. A relation
     * comes back as its bare foreign key (e.g. Order.user is the user's id), so read none through it.
     */
    detached: <T extends object>(entity: new () => T, row: Record<string, unknown> | undefined): T => {
      // An absent row is the caller's bug to see, never a snapshot of nothing.
      if (!row) throw new Error(`no ${entity.name} row to map`);
      return em.getDriver().mapResult(row, em.getMetadata().get(entity)) as T;
    },
  };
}
