import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { TcpProxy } from './tcp-proxy';

/** Which backing services this jest project runs against (see jest.config.js). */
export type TestTarget = { kind: 'embedded' } | { kind: 'services'; mysqlUrl: string; redisUrl: string };

declare const TEST_TARGET: TestTarget;
export const target: TestTarget = TEST_TARGET;
export const onServices = target.kind === 'services';

declare const TEST_REDIS_NAMESPACE: string;
/**
 * This suite's REDIS_NAMESPACE (from redis-environment.js): every server the suite starts writes its keys under it, in
 * the database TEST_REDIS_URL names, and they are all deleted when the suite ends. A namespace nested in it
 * (`<it>.<more>`) is deleted too.
 */
export const redisNamespace: string = TEST_REDIS_NAMESPACE;

/** TEST_REDIS_URL as reached through a local port (a TcpProxy in front of Redis): the same database and credentials. */
export function redisUrlVia(port: number): string {
  if (target.kind !== 'services') throw new Error('services only');
  const u = new URL(target.redisUrl);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

/** `describe` that runs only on the services project (e.g. tests that stop Redis). */
export const describeServices = onServices ? describe : describe.skip;

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A database of its own for one suite: a fresh MariaDB schema, or a libsql file in a temp dir. */
export async function freshDatabase(): Promise<TestDatabase> {
  if (target.kind === 'embedded') {
    const dir = mkdtempSync(join(tmpdir(), 'wxmp-test-'));
    return { url: `file:${join(dir, 'test.db')}`, drop: async () => undefined };
  }
  const base = new URL(target.mysqlUrl);
  const name = `wxmp_t_${randomBytes(5).toString('hex')}`;
  const admin = await createConnection({
    host: base.hostname,
    port: Number(base.port || 3306),
    user: decodeURIComponent(base.username),
    password: decodeURIComponent(base.password),
  });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = await createConnection({
        host: base.hostname,
        port: Number(base.port || 3306),
        user: decodeURIComponent(base.username),
        password: decodeURIComponent(base.password),
      });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

/**
 * A fresh MariaDB database for this suite with a started TcpProxy in front of it: `url` reaches the database through
 * the proxy (a server's DATABASE_URL), `database.url` directly. The caller stops the proxy and drops the database.
 */
export async function proxiedDatabase(): Promise<{ database: TestDatabase; proxy: TcpProxy; url: string }> {
  if (target.kind !== 'services') throw new Error('services only');
  const database = await freshDatabase();
  const real = new URL(database.url);
  const proxy = new TcpProxy({ host: real.hostname, port: Number(real.port || 3306) });
  const proxied = new URL(database.url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(await proxy.start());
  return { database, proxy, url: proxied.toString() };
}

/** A started TcpProxy in front of TEST_REDIS_URL, and `url`, the same database reached through it (a REDIS_URL). */
export async function proxiedRedis(): Promise<{ proxy: TcpProxy; url: string }> {
  if (target.kind !== 'services') throw new Error('services only');
  const redis = new URL(target.redisUrl);
  const proxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  return { proxy, url: redisUrlVia(await proxy.start()) };
}
