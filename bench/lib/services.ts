import { createConnection, type Connection } from 'mysql2/promise';
import { createClient } from '@redis/client';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { DIST } from './dist.ts';
import { startNode, tail } from './procs.ts';

/** Benchmark databases are named wxmp_bench_<unix seconds>_<target>, so leftovers of a killed run can be recognised. */
export const DB_PREFIX = 'wxmp_bench_';

export interface MysqlAdmin {
  /** mysql://user:pass@host:port/<name> */
  urlFor(name: string): string;
  create(name: string): Promise<void>;
  drop(name: string): Promise<void>;
  /** Drops benchmark databases older than `maxAgeSeconds` (a run that was SIGKILLed could not drop its own). */
  dropStale(maxAgeSeconds: number): Promise<string[]>;
  connect(name: string): Promise<Connection>;
  version(): Promise<string>;
  /**
   * Server-wide statement counters: Questions (every statement received) and Com_select, Com_insert, … Their deltas
   * over a run are the SQL statements the target sent, and which kinds.
   */
  statementCounters(): Promise<Record<string, number>>;
  /** The admin connection itself, for what needs the server-wide view (the general log, SET GLOBAL). */
  root: Connection;
  close(): Promise<void>;
}

export async function mysqlAdmin(serverUrl: string): Promise<MysqlAdmin> {
  const base = new URL(serverUrl);
  const opts = {
    host: base.hostname,
    port: Number(base.port || 3306),
    user: decodeURIComponent(base.username || 'root'),
    password: decodeURIComponent(base.password),
    charset: 'utf8mb4_unicode_ci',
    timezone: '+00:00',
  };
  const admin = await createConnection(opts);
  const quoted = (name: string) => {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing database name ${name}`);
    return `\`${name}\``;
  };
  return {
    urlFor(name) {
      const u = new URL(base.toString());
      u.pathname = `/${name}`;
      return u.toString();
    },
    async create(name) {
      await admin.query(`CREATE DATABASE ${quoted(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    },
    async drop(name) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoted(name)}`);
    },
    async dropStale(maxAgeSeconds) {
      const [rows] = await admin.query<import('mysql2').RowDataPacket[]>(`SHOW DATABASES LIKE '${DB_PREFIX}%'`);
      const now = Math.floor(Date.now() / 1000);
      const dropped: string[] = [];
      for (const row of rows) {
        const name = String(Object.values(row)[0]);
        const m = new RegExp(`^${DB_PREFIX}(\\d+)_[a-z]+$`).exec(name);
        if (m && now - Number(m[1]) > maxAgeSeconds) {
          await admin.query(`DROP DATABASE IF EXISTS ${quoted(name)}`);
          dropped.push(name);
        }
      }
      return dropped;
    },
    connect: (name) => createConnection({ ...opts, database: name }),
    async version() {
      const [rows] = await admin.query<import('mysql2').RowDataPacket[]>('SELECT VERSION() AS v');
      return String(rows[0].v);
    },
    async statementCounters() {
      const [rows] = await admin.query<import('mysql2').RowDataPacket[]>(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_begin', 'Com_commit', 'Com_rollback')",
      );
      return Object.fromEntries(rows.map((r) => [String(r.Variable_name), Number(r.Value)]));
    },
    root: admin,
    close: () => admin.end(),
  };
}

/** Applies the server's migrations to a database, the way an operator would: `node dist/cli/migrate.js`. */
export async function migrate(databaseUrl: string, logPath: string, migrateJs = DIST.migrate): Promise<void> {
  const child = startNode('migrate', [migrateJs], { DATABASE_URL: databaseUrl }, logPath);
  const code = await child.exited;
  if (code !== 0) throw new Error(`migrate ${databaseUrl} exited ${code}:\n${tail(logPath)}`);
}

export interface RedisSlot {
  /** redis://host:port/<db> for the children. */
  url: string;
  db: number;
  version: string;
  /** The server's total_commands_processed (all databases): its delta over a run is commands sent. */
  commands(): Promise<number>;
  /** The server's used_memory in bytes (all databases). */
  usedMemory(): Promise<number>;
  /** FLUSHDB on our database only, then disconnect. */
  release(): Promise<void>;
}

const CLAIM_KEY = 'wxmp-bench:claimed-by';

/**
 * Sessions and rate-limit counters go to a Redis logical database nobody else is using (empty, and claimed with a
 * marker key), so the bench never reads or deletes anyone else's keys and can simply FLUSHDB its own at the end.
 * BENCH_REDIS_DB forces one (it must be empty or ours).
 */
export async function claimRedisDb(serverUrl: string, forced?: number): Promise<RedisSlot> {
  const client = createClient({ url: serverUrl });
  client.on('error', () => undefined);
  await client.connect();
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const candidates = forced !== undefined ? [forced] : [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  const me = `${process.pid}@${Date.now()}`;
  for (const db of candidates) {
    await client.select(db);
    if ((await client.dbSize()) !== 0) continue;
    const claimed = await client.set(CLAIM_KEY, me, { condition: 'NX', expiration: { type: 'EX', value: 24 * 3600 } });
    if (claimed !== 'OK') continue;
    const u = new URL(serverUrl);
    u.pathname = `/${db}`;
    return {
      url: u.toString(),
      db,
      version,
      async commands() {
        return Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))?.[1] ?? NaN);
      },
      async usedMemory() {
        return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? NaN);
      },
      async release() {
        try {
          await client.select(db);
          if ((await client.get(CLAIM_KEY)) === me) await client.flushDb();
        } finally {
          client.destroy();
        }
      },
    };
  }
  client.destroy();
  throw new Error(
    `no empty Redis logical database at ${serverUrl} (tried ${candidates.join(', ')}); set BENCH_REDIS_DB to an empty one`,
  );
}

const REPO = new URL('../../', import.meta.url).pathname;

/**
 * Builds the server as committed at `ref` (git archive of src/ and the tsconfigs: read-only, the working tree and the
 * index are untouched) into `dir`, with this checkout's node_modules, and returns its dist/ directory. This is how a
 * "before" figure is reproduced after the working tree has moved on: BENCH_SERVER_REF=<commit> npm run bench.
 */
export function buildServerAt(ref: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync(
    'git',
    ['-C', REPO, 'archive', '--format=tar', ref, 'src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'],
    { maxBuffer: 256 * 2 ** 20 },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  if (!existsSync(`${dir}/node_modules`)) symlinkSync(`${REPO}node_modules`, `${dir}/node_modules`);
  execFileSync(process.execPath, [`${REPO}node_modules/typescript/bin/tsc`, '-p', `${dir}/tsconfig.build.json`], {
    stdio: 'inherit',
  });
  return `${dir}/dist`;
}
