import { migrationsFor } from '../../src/migrations';
import { startServer, type TestServer } from '../support/server';
import { freshDatabase, target, type TestDatabase } from '../support/target';

interface Summary {
  msg: string;
  startup: {
    listen: string;
    database: { kind: string; at: string };
    sessions: { kind: string; at?: string };
    migrations: { applied?: string[]; pending?: string[] };
    simulator: string | false;
    graphiql: string | false;
  };
}

/** The server's startup lines: the summary must be the one line about it. */
function summaryOf(t: TestServer): Summary {
  const lines = t.logs.map((l) => JSON.parse(l) as Summary & Record<string, unknown>).filter((l) => 'startup' in l);
  expect(lines).toHaveLength(1);
  // Fastify's own bare "Server listening at" would say part of it again.
  expect(t.logs.some((l) => l.includes('Server listening'))).toBe(false);
  return lines[0];
}

const kind = target.kind === 'embedded' ? 'libsql' : 'mysql';
const allMigrations = migrationsFor(kind).map((m) => m.name);

describe('startup summary, from a real server', () => {
  let database: TestDatabase;
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string> = {}, db: TestDatabase | undefined = database) => {
    const t = await startServer({ env, database: db });
    servers.push(t);
    return t;
  };

  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    for (const t of servers) await t.close();
    await database?.drop();
  });

  it('when a server starts on a fresh database, then one line says where it listens, its stores, every migration it applied, the simulator and GraphiQL', async () => {
    const t = await start();
    const { msg, startup } = summaryOf(t);
    const port = new URL(t.url).port;

    expect(startup.listen).toBe(`http://127.0.0.1:${port}`);
    expect(startup.migrations).toEqual({ applied: allMigrations });
    expect(msg).toContain(`migrations: applied ${allMigrations.join(', ')}`);
    expect(startup.simulator).toBe(`${t.url}/simulator`);
    expect(startup.graphiql).toBe(`${t.url}/graphql`);
    if (target.kind === 'embedded') {
      expect(startup.database).toEqual({ kind: 'SQLite (libsql)', at: database.url });
      expect(startup.sessions).toEqual({ kind: 'in-process memory' });
    } else {
      const db = new URL(database.url);
      expect(startup.database.kind).toMatch(/^(MariaDB|MySQL) \d+\.\d+/);
      // The test URL names a user (root), so it is masked even without a password.
      expect(startup.database.at).toBe(`mysql://***@${db.host}${db.pathname}`);
      expect(startup.sessions).toEqual({ kind: 'Redis', at: expect.stringMatching(/^rediss?:\/\//) as unknown });
      for (const secret of [db.password, new URL(target.redisUrl).password].filter(Boolean))
        expect(JSON.stringify(summaryOf(t))).not.toContain(secret);
    }
    expect(msg).toMatch(
      new RegExp(
        `^listening on http://127\\.0\\.0\\.1:${port} · database: .+ at .+ · sessions: .+ · migrations: applied .+ · simulator: mounted at ${t.url}/simulator · GraphiQL: ${t.url}/graphql$`,
      ),
    );

    // The addresses it names are the ones that answer.
    const page = await fetch(startup.graphiql as string, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    await page.arrayBuffer();
    const sim = await fetch(`${startup.simulator}/dev/login-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(sim.status).toBe(200);
  });

  it('when a second server starts on the same database, then it says none pending', async () => {
    const { msg, startup } = summaryOf(await start());
    expect(startup.migrations).toEqual({ applied: [] });
    expect(msg).toContain(' · migrations: none pending · ');
  });

  it('when MIGRATE_ON_START=0 on a migrated database, then it says they were not run and none is pending', async () => {
    const { msg, startup } = summaryOf(await start({ MIGRATE_ON_START: '0' }));
    expect(startup.migrations).toEqual({ pending: [] });
    expect(msg).toContain(' · migrations: not run (MIGRATE_ON_START=0), none pending · ');
  });

  it('when MIGRATE_ON_START=0 on an empty database, then it says it could not tell, and the database stays untouched', async () => {
    const empty = await freshDatabase();
    try {
      const t = await start({ MIGRATE_ON_START: '0' }, empty);
      expect(summaryOf(t).msg).toContain(
        ' · migrations: not run (MIGRATE_ON_START=0), pending unknown (no migrations table readable) · ',
      );
      // Reading what is pending wrote nothing: no migrations table was created behind the operator's back.
      const tables: unknown = await t.server.orm.em
        .getConnection()
        .execute(
          kind === 'mysql'
            ? 'select table_name as name from information_schema.tables where table_schema = database()'
            : "select name from sqlite_master where type = 'table'",
        );
      expect(tables).toEqual([]);
    } finally {
      await servers.pop()!.close();
      await empty.drop();
    }
  });

  it('when PLAYGROUND=0, then the line says GraphiQL is off and how to turn it on', async () => {
    const { msg, startup } = summaryOf(await start({ PLAYGROUND: '0' }));
    expect(startup.graphiql).toBe(false);
    expect(msg).toMatch(/ · GraphiQL: off \(PLAYGROUND=1 turns it on\)$/);
  });
});
