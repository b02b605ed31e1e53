import {
  ConnectionException,
  MikroORM,
  ReferenceKind,
  type EntityClass,
  type EntityData,
  type EntityManager,
  type EntityMetadata,
  type MigrationObject,
  type Options,
} from '@mikro-orm/core';
// Types only: Kysely is the query builder under MikroORM 7's SQL drivers (em.getKysely()).
import type { CompiledQuery, DeleteResult, Generated, InsertResult, Kysely, UpdateResult } from 'kysely';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { Migrator } from '@mikro-orm/migrations';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseTarget } from './config';
import { AppError } from './errors';
import { withTimeout } from './timeout';
import { dropMysqlCollations, EXACT_COLLATION_QUERY, useServerCollation } from './collation';

export type Orm = MikroORM;

/** What the application keeps in the database: its entities, and each dialect's migrations (src/server/data-model.ts). */
export interface DataModel {
  entities: EntityClass<object>[];
  migrationsFor(kind: DatabaseTarget['kind']): MigrationObject[];
}

/**
 * ORM options for a target. The driver follows the URL's scheme; clientUrl alone does not pick it. Only that driver
 * is loaded: the other one (libsql's native library, or the MySQL client) would just sit in memory.
 */
export async function ormOptions(
  target: DatabaseTarget,
  model: DataModel,
  timeoutMs?: number,
): Promise<Partial<Options>> {
  const common = {
    entities: model.entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    migrations: {
      migrationsList: model.migrationsFor(target.kind),
      transactional: true,
      snapshot: false,
      silent: true,
    },
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
      // A new connection's handshake is bounded too: one stuck on a dead path would hold its pool slot.
      ...(timeoutMs ? { driverOptions: { connectTimeout: timeoutMs } } : {}),
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

/**
 * Connects eagerly so a bad DATABASE_URL fails at start, not on the first request. With `timeoutMs` (the server's
 * DATABASE_TIMEOUT_MS), MariaDB statements are bounded once migrations are done: a migration may rightly run longer
 * than any request, and `npm run migrate` passes none. `migrated` names the migrations this call applied, in order
 * (undefined when `migrate` is false); `serverVersion` is MariaDB's or MySQL's VERSION() (undefined on libsql).
 */
export async function openDatabase(
  target: DatabaseTarget,
  model: DataModel,
  migrate: boolean,
  timeoutMs?: number,
): Promise<{ orm: Orm; migrated?: string[]; serverVersion?: string }> {
  const orm = await MikroORM.init(await ormOptions(target, model, timeoutMs));
  await orm.connect();
  let serverVersion: string | undefined;
  if (target.kind === 'mysql') {
    const [found] = (await orm.em.getConnection().execute(EXACT_COLLATION_QUERY)) as {
      name?: string;
      version?: string;
    }[];
    useServerCollation(Object.values(orm.getMetadata().getAll()), found?.name ?? undefined);
    serverVersion = found?.version;
  }
  const migrated = migrate ? (await orm.migrator.up()).map((m) => m.name) : undefined;
  if (timeoutMs && target.kind === 'mysql')
    boundPool((await orm.em.getConnection().getNativeClient()) as MysqlPool, timeoutMs);
  return { orm, migrated, serverVersion };
}

/**
 * Closes the pool within `timeoutMs`: a connection to a frozen database would never answer its QUIT, and shutdown
 * must not wait on it (nor fail on a connection the network already dropped).
 */
export async function closeDatabase(
  orm: Orm,
  timeoutMs: number,
  logger: { warn(obj: object, msg: string): void },
): Promise<void> {
  try {
    await withTimeout(
      orm.close(),
      timeoutMs,
      () => new DatabaseTimeoutError(`database not closed within ${timeoutMs} ms`),
    );
  } catch (err) {
    logger.warn({ cause: String((err as Error).message).slice(0, 200) }, 'database close');
  }
}

/** The parts of mysql2's callback pool and pooled connection used here. */
interface MysqlPool {
  getConnection(cb: (err: Error | null, conn?: MysqlConnection) => void): void;
}
interface MysqlConnection {
  query(...args: unknown[]): unknown;
  release(): void;
  destroy(): void;
  stream?: { destroy?(): void };
  [BOUND]?: { acquiredAt?: number };
}
const BOUND = Symbol('bounded');

/** Why a statement did not run or did not finish: the database did not answer in time. */
export class DatabaseTimeoutError extends Error {
  readonly code = 'DATABASE_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseTimeoutError';
  }
}

/**
 * Bounds every statement MikroORM and typedQueries() send through mysql2's pool, which has no bound of its own: a frozen
 * or black-holed database would hold each request, and each pool connection, for as long as it stays so.
 *  - Waiting for a connection and running the statement share one budget of `timeoutMs`.
 *  - A statement whose caller gave up waiting for a connection never runs: the connection goes straight back.
 *  - A connection whose statement timed out is destroyed, never returned to the pool. mysql2's own query timeout
 *    only fails the callback; the stale command stays at the head of the connection's queue, so everything sent on
 *    it later would wait behind it (forever, on a black-holed path). The pool then opens a fresh connection.
 * Kysely (under MikroORM) holds this same pool object and calls getConnection() on it for every statement.
 */
export function boundPool(pool: MysqlPool, timeoutMs: number): void {
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (cb) => {
    const acquiredAt = Date.now();
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      cb(new DatabaseTimeoutError(`no database connection within ${timeoutMs} ms`));
    }, timeoutMs);
    getConnection((err, conn) => {
      if (settled) {
        conn?.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (err || !conn) return cb(err ?? new Error('no connection'));
      boundConnection(conn, timeoutMs).acquiredAt = acquiredAt;
      cb(null, conn);
    });
  };
}

function boundConnection(conn: MysqlConnection, timeoutMs: number): { acquiredAt?: number } {
  if (conn[BOUND]) return conn[BOUND];
  const state: { acquiredAt?: number } = {};
  conn[BOUND] = state;
  const query = conn.query.bind(conn);
  // Kysely's shape: query(sql, values, callback). Anything else is passed through untouched.
  conn.query = (sql: unknown, values: unknown, cb: unknown) => {
    if (typeof sql !== 'string' || typeof cb !== 'function') return query(sql, values, cb);
    // The first statement after acquisition has what is left of the budget; later ones (a transaction's) a full one.
    const started = state.acquiredAt ?? Date.now();
    state.acquiredAt = undefined;
    const timeout = Math.max(1, started + timeoutMs - Date.now());
    let answered = false;
    return query({ sql, values, timeout }, (err: (Error & { code?: string }) | null, ...rest: unknown[]) => {
      if (answered) return;
      answered = true;
      if (err?.code !== 'PROTOCOL_SEQUENCE_TIMEOUT') return (cb as (...a: unknown[]) => void)(err, ...rest);
      conn.destroy();
      // destroy() only half-closes; on a dead path the socket would linger until the kernel gives up.
      conn.stream?.destroy?.();
      (cb as (e: Error) => void)(new DatabaseTimeoutError(`database statement unanswered after ${timeoutMs} ms`));
    });
  };
  return state;
}

/** mysql2/Node codes that mean the database could not be reached or stopped answering, not that a statement is wrong. */
const UNAVAILABLE_CODES = new Set([
  'DATABASE_TIMEOUT',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_CONNECTION_LOST',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ER_CON_COUNT_ERROR',
  'SQLITE_BUSY',
]);

/**
 * The database as a client-facing failure: SERVICE_UNAVAILABLE (retry later) when `err` says the database is
 * unreachable or timed out, otherwise undefined. Checked where errors become answers, since ORM calls throw the
 * driver's own exceptions.
 */
export function databaseUnavailable(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err.code === 'SERVICE_UNAVAILABLE' ? err : undefined;
  const e = err as { code?: unknown; message?: unknown } | null;
  const unavailable =
    (typeof e?.code === 'string' && UNAVAILABLE_CODES.has(e.code)) ||
    err instanceof ConnectionException ||
    // mysql2's answer for a statement queued on a connection that has just died.
    (typeof e?.message === 'string' && e.message.includes('connection is in closed state'));
  return unavailable
    ? new AppError('SERVICE_UNAVAILABLE', undefined, {}, { cause: `database: ${String(e?.code ?? e?.message)}` })
    : undefined;
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
  /** The AUTO_INCREMENT id an INSERT made (or, on MySQL, the one LAST_INSERT_ID(id) handed back); 0 when none. */
  insertId: number;
}

type Scalar = string | number | bigint | boolean | Date;
/** `outTradeNo` → `out_trade_no`: what the ORM's default naming strategy calls a property's column. */
type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}`
  : S;
/** A property's column: a relation is its foreign key (`user` → `user_id`). */
type ColumnName<K extends string, V> = NonNullable<V> extends Scalar ? Snake<K> : `${Snake<K>}_id`;
type ColumnValue<V> = NonNullable<V> extends Scalar ? V : NonNullable<V> extends { id: infer P } ? P : never;

/**
 * An entity's table as Kysely sees it, derived from the entity class: one column per persisted property, named and
 * typed as the ORM maps it. Renaming or retyping a property therefore breaks every typed query of it at compile time;
 * typedQueries() checks at first use that the metadata agrees (a `fieldName` in a decorator is invisible to types).
 * `G`: the columns the database fills in (an autoincrement id), optional on insert.
 */
export type TableOf<E, G extends string = 'id'> = {
  [K in keyof E as K extends string ? ColumnName<K, E[K]> : never]: K extends G
    ? Generated<ColumnValue<E[K]>>
    : ColumnValue<E[K]>;
};

/** Each table's name and the entity whose metadata must agree with its TableOf type. */
export type TableEntities<DB> = { [T in keyof DB & string]: EntityClass<object> };

/** A statement Kysely built: its result type is read from execute(), its text from compile(). */
type Statement<R> = { execute(): Promise<R>; compile(): CompiledQuery };
type WriteResults = readonly (InsertResult | UpdateResult | DeleteResult)[];

/** Where a prepared statement's value goes: a named parameter, or a constant the builder put there. */
class Param {
  constructor(readonly key: string) {}
}

/**
 * A typed statement of a fixed shape, built and compiled once per ORM with named parameters, then run with the
 * values of each call: the same fixed SQL as a string constant, at the cost of a lookup (see typedQueries()).
 */
export interface Prepared<DB, P, R> {
  readonly build: (db: Kysely<DB>, param: <K extends keyof P & string>(key: K) => P[K]) => Statement<R>;
  readonly compiled: WeakMap<object, { sql: string; values: (Param | { value: unknown })[] }>;
}

/** A statement for `prepare`d use: `build` receives `param(key)` for each value the call supplies in `P`. */
export function prepare<DB, P>() {
  return <R>(build: Prepared<DB, P, R>['build']): Prepared<DB, P, R> => ({ build, compiled: new WeakMap() });
}

/** Typed statements on one EntityManager: see typedQueries(). */
export interface TypedQueries<DB> {
  /** Kysely for this dialect, to build statements with; rows() and write() run them. */
  db: Kysely<DB>;
  /** The dialect answers INSERT … RETURNING (SQLite); MySQL has none, and answers an insertId instead. */
  returning: boolean;
  /** Runs a SELECT (or an INSERT … RETURNING) and answers its rows. */
  rows<R>(query: Statement<R[]>): Promise<R[]>;
  rows<P, R>(statement: Prepared<DB, P, R[]>, values: P): Promise<R[]>;
  /** Runs an INSERT, UPDATE or DELETE and answers what it did. */
  write(query: Statement<WriteResults>): Promise<RunResult>;
  write<P>(statement: Prepared<DB, P, WriteResults>, values: P): Promise<RunResult>;
  /** A Date as this platform stores it (libsql keeps a datetime as epoch milliseconds), typed as the column is. */
  date(d: Date): Date;
  date(d: Date | null): Date | null;
  /**
   * A row as a detached snapshot of `entity`: a plain object with its properties (column names mapped, types
   * converted), not an entity instance. Entity instances define an accessor per property as they are assigned
   * (~4 KB and a dozen defineProperty calls a row); a snapshot that is only read and answered needs none. A relation
   * comes back as its bare foreign key (e.g. Order.user is the user's id), so read none through it.
   */
  detached<T extends object>(entity: EntityClass<T>, row: object | undefined): T;
}

/** Per ORM, the table lists already checked against its metadata. */
const checkedTables = new WeakMap<object, WeakSet<object>>();

/**
 * Typed statements on the request's EntityManager, for the data access hot paths. They are built with MikroORM 7's
 * em.getKysely() over TableOf types and run, compiled, through the EntityManager's own connection.execute(): its
 * transaction, its escaping and date storage per platform, its driver exceptions (e.g.
 * UniqueConstraintViolationException), the database unreachable as SERVICE_UNAVAILABLE.
 * Why not the rest of the ORM: its query builder, a flush, or Kysely's naming plugin (node and row transforms) cost
 * 100–350 µs of CPU a statement, which the load of a campaign or a sale pays per request. Even building and
 * compiling with Kysely costs 5–12 µs a statement plus its garbage, so a statement of a fixed shape is prepare()d:
 * built once per ORM, then run with each call's values, as cheap as the string constant it replaces.
 * The first use on an ORM checks the TableOf names against its metadata, so a mismatch fails loudly and early.
 */
export function typedQueries<DB>(em: EntityManager, tables: TableEntities<DB>): TypedQueries<DB> {
  const metadata = em.getMetadata();
  let checked = checkedTables.get(metadata);
  if (!checked) checkedTables.set(metadata, (checked = new WeakSet()));
  if (!checked.has(tables)) {
    for (const [table, entity] of Object.entries<EntityClass<object>>(tables)) checkTable(metadata.get(entity), table);
    checked.add(tables);
  }
  const platform = em.getPlatform();
  const driver = em.getDriver();
  // Only a statement built here needs it: a prepared one is built once per ORM.
  let kysely: Kysely<DB> | undefined;
  const db = () => (kysely ??= (em as unknown as { getKysely(): Kysely<DB> }).getKysely());
  const compile = (
    query: Statement<unknown> | Prepared<DB, unknown, unknown>,
    values: unknown,
  ): { sql: string; parameters: readonly unknown[] } => {
    if (!('build' in query)) return query.compile();
    let compiled = query.compiled.get(platform);
    if (!compiled) {
      const built = query.build(db(), (key) => new Param(key)).compile();
      compiled = { sql: built.sql, values: built.parameters.map((v) => (v instanceof Param ? v : { value: v })) };
      query.compiled.set(platform, compiled);
    }
    const given = values as Record<string, unknown>;
    return { sql: compiled.sql, parameters: compiled.values.map((v) => (v instanceof Param ? given[v.key] : v.value)) };
  };
  const run = async (
    query: Statement<unknown> | Prepared<DB, unknown, unknown>,
    values: unknown,
    method: 'all' | 'run',
  ): Promise<unknown> => {
    const { sql, parameters } = compile(query, values);
    try {
      return (await em
        .getConnection()
        .execute(sql, parameters as unknown[], method, em.getTransactionContext())) as unknown;
    } catch (err) {
      const converted = driver.convertException(err as Error);
      throw databaseUnavailable(converted) ?? converted;
    }
  };
  return {
    get db() {
      return db();
    },
    returning: platform.usesReturningStatement(),
    rows: ((query: Statement<unknown>, values?: unknown) => run(query, values, 'all')) as TypedQueries<DB>['rows'],
    async write(query: Statement<WriteResults> | Prepared<DB, unknown, WriteResults>, values?: unknown) {
      const { affectedRows, insertId } = (await run(query, values, 'run')) as {
        affectedRows: number;
        insertId?: number | null;
      };
      return { affectedRows, insertId: insertId ?? 0 };
    },
    date: ((d: Date | null) => (d === null ? null : platform.processDateProperty(d))) as TypedQueries<DB>['date'],
    detached<T extends object>(entity: EntityClass<T>, row: object | undefined): T {
      // An absent row is the caller's bug to see, never a snapshot of nothing.
      if (!row) throw new Error(`no ${entity.name} row to map`);
      return driver.mapResult(row as EntityData<T>, metadata.get(entity)) as T;
    },
  };
}

/** Does `table`'s TableOf naming (snake_case columns, a relation's `<name>_id`) match the ORM's metadata? */
function checkTable(meta: EntityMetadata, table: string): void {
  const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (meta.tableName !== table)
    throw new Error(`${meta.className} is table ${meta.tableName}, but the typed queries call it ${table}`);
  for (const prop of meta.props) {
    if (prop.persist === false || (prop.kind !== ReferenceKind.SCALAR && prop.kind !== ReferenceKind.MANY_TO_ONE))
      continue;
    const expected = prop.kind === ReferenceKind.SCALAR ? snake(prop.name) : `${snake(prop.name)}_id`;
    if (prop.fieldNames.join() !== expected)
      throw new Error(
        `${meta.className}.${prop.name} is column ${prop.fieldNames.join()}, but the typed queries name it ${expected}`,
      );
  }
}

/** Delays before each try of a retried write: five tries within ~15 s plus their own bounds. */
const RETRY_DELAYS_MS = [0, 1000, 2000, 4000, 8000];

/**
 * A write that records a failure (a notify's ERROR, an order CLOSED) and must not be lost to the very outage that
 * caused the failure: tried now, then again after each delay, each try bounded by DATABASE_TIMEOUT_MS. `first`
 * settles after the first try (so a caller may wait for that one only), `done` after the last; neither rejects.
 */
export function retriedWrite(
  write: () => Promise<unknown>,
  onError: (err: unknown, attempt: number) => void,
  delaysMs = RETRY_DELAYS_MS,
) {
  let firstTried: (ok: boolean) => void = () => undefined;
  const first = new Promise<boolean>((resolve) => (firstTried = resolve));
  const done = (async () => {
    for (const [attempt, delay] of delaysMs.entries()) {
      if (delay) await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
      try {
        await write();
        firstTried(true);
        return true;
      } catch (err) {
        onError(err, attempt + 1);
        firstTried(false);
      }
    }
    return false;
  })();
  return { first, done };
}

/**
 * With MIGRATE_ON_START=0, which of `all` this database lacks, read without writing (the migrator's own getPending()
 * would create the database and its table); undefined when that table cannot be read (a fresh database, or no rights).
 */
export async function pendingMigrations(orm: Orm, all: MigrationObject[]): Promise<string[] | undefined> {
  try {
    const rows = (await orm.em.getConnection().execute('select name from mikro_orm_migrations')) as { name: string }[];
    const done = new Set(rows.map((r) => r.name));
    return all.map((m) => m.name).filter((name) => !done.has(name));
  } catch {
    return undefined;
  }
}

/** Resolves when the database answers a round trip (for /readyz; the caller bounds the wait). */
export async function pingDatabase(orm: Orm): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}
