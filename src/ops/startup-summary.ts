import type { DatabaseTarget } from '../core/config';

/** What a started server is wired to: gathered by app.ts once it listens. */
export interface StartupFacts {
  /** The address the socket is bound to, e.g. http://0.0.0.0:4000. */
  listen: string;
  /** The base this machine reaches it at, e.g. http://127.0.0.1:4000. */
  baseUrl: string;
  database: DatabaseTarget;
  /** The database server's own VERSION() (MariaDB/MySQL only), when it answered. */
  databaseVersion?: string;
  /** Unset: the in-process store. */
  redisUrl?: string;
  /** REDIS_CLUSTER_NODES: sessions are on a Redis Cluster. */
  redisClusterNodes?: { host: string; port: number }[];
  /**
   * `applied`: MIGRATE_ON_START ran these (maybe none). `pending`: it is off, and these wait for `npm run migrate`
   * (undefined: the database could not say).
   */
  migrations: { applied: string[] } | { pending: string[] | undefined };
  /** The simulator's path prefix, or undefined when it is not mounted. */
  simulator?: string;
  graphiql: boolean;
}

/**
 * A URL with whatever sits before its host (user and password) shown as `***`, and no query string or fragment (a
 * driver option there may carry a password). Everything up to the last `@` counts as credentials, so a password
 * holding `@`, `/` or `?` is masked whole; at worst more than the credentials is hidden.
 */
export function maskUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0;
  if (credentials) rest = rest.slice(at + 1);
  rest = rest.replace(/[?#].*$/, '');
  return `${scheme}${credentials ? '***@' : ''}${rest}`;
}

function pendingText(pending: string[] | undefined): string {
  if (!pending) return 'pending unknown (no migrations table readable)';
  return pending.length ? `pending ${pending.join(', ')}` : 'none pending';
}

function databaseKind(facts: StartupFacts): string {
  if (facts.database.kind === 'libsql') return 'SQLite (libsql)';
  const version = facts.databaseVersion;
  if (!version) return 'MariaDB/MySQL';
  const number = /^[\d.]+/.exec(version)?.[0] ?? version;
  return /mariadb/i.test(version) ? `MariaDB ${number}` : `MySQL ${number}`;
}

/**
 * The one line a server logs once it listens: where it listens, where data and sessions go, what the migrator did,
 * whether the simulator is mounted and where GraphiQL is. `msg` says it all for a reader; `startup` holds the same
 * facts as fields for a log query. Neither carries a password.
 */
export function startupSummary(facts: StartupFacts): { msg: string; startup: Record<string, unknown> } {
  const database = { kind: databaseKind(facts), at: maskUrl(facts.database.url) };
  const sessions = facts.redisClusterNodes?.length
    ? {
        kind: 'Redis Cluster',
        at: facts.redisClusterNodes.map((node) => `${node.host}:${node.port}`).join(','),
      }
    : facts.redisUrl
      ? { kind: 'Redis', at: maskUrl(facts.redisUrl) }
      : { kind: 'in-process memory' };
  const migrations =
    'applied' in facts.migrations
      ? facts.migrations.applied.length
        ? `applied ${facts.migrations.applied.join(', ')}`
        : 'none pending'
      : `not run (MIGRATE_ON_START=0), ${pendingText(facts.migrations.pending)}`;
  const simulator = facts.simulator ? `${facts.baseUrl}${facts.simulator}` : undefined;
  const graphiql = facts.graphiql ? `${facts.baseUrl}/graphql` : undefined;

  const msg = [
    `listening on ${facts.listen}`,
    `database: ${database.kind} at ${database.at}`,
    `sessions: ${sessions.kind}${sessions.at ? ` at ${sessions.at}` : ''}`,
    `migrations: ${migrations}`,
    `simulator: ${simulator ? `mounted at ${simulator}` : 'off'}`,
    `GraphiQL: ${graphiql ?? 'off (PLAYGROUND=1 turns it on)'}`,
  ].join(' · ');
  return {
    msg,
    startup: {
      listen: facts.listen,
      database,
      sessions,
      migrations: facts.migrations,
      simulator: simulator ?? false,
      graphiql: graphiql ?? false,
    },
  };
}
