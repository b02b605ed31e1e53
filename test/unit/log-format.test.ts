import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../../src/core/config';
import { createLogger, type LogFormat } from '../../src/core/logger';
import { maskUrl, startupSummary } from '../../src/ops/startup-summary';
import { pickEncoding } from '../../src/ops/graphiql.plugin';

function capture(format: LogFormat) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('info', sink, format), lines };
}

describe('LOG_FORMAT', () => {
  it('when LOG_FORMAT is pretty or json, then that is the format; unset, pretty only outside production on a terminal', () => {
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: '' }).logFormat).toBe(process.stdout.isTTY ? 'pretty' : 'json');
    const production = { NODE_ENV: 'production', WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret' };
    expect(loadConfig(production).logFormat).toBe('json');
    expect(loadConfig({ ...production, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  });

  it('when LOG_FORMAT is anything else, then the start fails naming it and the choices', () => {
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT: must be pretty or json/);
  });

  it('when the format is pretty, then each event is one text line with its level, message and fields, and secrets stay censored', () => {
    const { logger, lines } = capture('pretty');
    logger.info({ path: '/graphql', token: 'T0KEN-VALUE' }, 'request');
    logger.child({ reqId: 'r-1' }).warn({ sessionKey: 'S3SSION' }, 'slow');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: request \{"path":"\/graphql","token":"\[redacted\]"\}$/);
    expect(lines[1]).toMatch(/WARN: slow .*"reqId":"r-1".*"sessionKey":"\[redacted\]"/);
    expect(lines.join('\n')).not.toMatch(/T0KEN-VALUE|S3SSION|"level"|"pid"|"hostname"/);
  });

  it('when the format is json, then each event is one pino JSON object', () => {
    const { logger, lines } = capture('json');
    logger.info({ path: '/graphql' }, 'request');
    expect(JSON.parse(lines[0])).toMatchObject({ level: 30, msg: 'request', path: '/graphql' });
  });

  it('when the startup summary is logged pretty, then its line is the sentence alone (the fields are already in it)', () => {
    const { logger, lines } = capture('pretty');
    const { msg, startup } = startupSummary({
      listen: 'http://0.0.0.0:4000',
      baseUrl: 'http://127.0.0.1:4000',
      database: { kind: 'libsql', url: 'file:./data/wxmp.db' },
      migrations: { applied: [] },
      graphiql: false,
    });
    logger.info({ startup }, msg);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /INFO: listening on http:\/\/0\.0\.0\.0:4000 · database: SQLite \(libsql\) at file:\.\/data\/wxmp\.db · sessions: in-process memory · migrations: none pending · simulator: off · GraphiQL: off \(PLAYGROUND=1 turns it on\)$/,
    );
  });
});

describe('startup summary', () => {
  it.each([
    ['mysql://app:s3cret@db.internal:3306/wxmp', 'mysql://***@db.internal:3306/wxmp'],
    ['mysql://root@127.0.0.1:3306/test', 'mysql://***@127.0.0.1:3306/test'],
    ['mysql://app:p@ss/w?rd#x@db:3306/wxmp', 'mysql://***@db:3306/wxmp'],
    ['mysql://db:3306/wxmp?password=s3cret&ssl=true', 'mysql://db:3306/wxmp'],
    ['redis://:s3cret@cache:6379/2', 'redis://***@cache:6379/2'],
    ['rediss://default:s3cret@cache.example.com:6380', 'rediss://***@cache.example.com:6380'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['file:./data/wxmp.db', 'file:./data/wxmp.db'],
    [':memory:', ':memory:'],
  ])('when the URL is %s, then it shows as %s', (url, shown) => {
    expect(maskUrl(url)).toBe(shown);
  });

  it('when sessions are on a Redis Cluster, then the line says so and names its seed nodes', () => {
    const { msg, startup } = startupSummary({
      listen: 'http://127.0.0.1:4000',
      baseUrl: 'http://127.0.0.1:4000',
      database: { kind: 'libsql', url: 'file:./data/wxmp.db' },
      redisClusterNodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      migrations: { applied: [] },
      graphiql: false,
    });
    expect(startup.sessions).toEqual({ kind: 'Redis Cluster', at: '10.0.0.1:7000,10.0.0.2:7001' });
    expect(msg).toContain('sessions: Redis Cluster at 10.0.0.1:7000,10.0.0.2:7001');
  });

  it('when a server on MariaDB and Redis with passwords applied migrations, then the line names them, the versions and the hosts, and no password', () => {
    const { msg, startup } = startupSummary({
      listen: 'http://127.0.0.1:4000',
      baseUrl: 'http://127.0.0.1:4000',
      database: { kind: 'mysql', url: 'mysql://app:s3cret@db:3306/wxmp' },
      databaseVersion: '10.11.19-MariaDB-0+deb12u1',
      redisUrl: 'redis://:s3cret@cache:6379/1',
      migrations: { applied: ['Migration1_Initial', 'Migration2_Payments'] },
      simulator: '/simulator',
      graphiql: true,
    });
    expect(msg).toBe(
      'listening on http://127.0.0.1:4000 · database: MariaDB 10.11.19 at mysql://***@db:3306/wxmp · sessions: Redis at redis://***@cache:6379/1 · migrations: applied Migration1_Initial, Migration2_Payments · simulator: mounted at http://127.0.0.1:4000/simulator · GraphiQL: http://127.0.0.1:4000/graphql',
    );
    expect(JSON.stringify(startup)).not.toContain('s3cret');
    expect(startup).toMatchObject({
      database: { kind: 'MariaDB 10.11.19' },
      sessions: { kind: 'Redis' },
      simulator: 'http://127.0.0.1:4000/simulator',
    });
  });

  it('when migrations are off, then the line says so and what is pending, or that it could not tell', () => {
    const facts = {
      listen: 'http://127.0.0.1:4000',
      baseUrl: 'http://127.0.0.1:4000',
      database: { kind: 'mysql', url: 'mysql://db/x' } as const,
      databaseVersion: '8.0.36',
      graphiql: false,
    };
    expect(startupSummary({ ...facts, migrations: { pending: ['Migration3_More'] } }).msg).toContain(
      'database: MySQL 8.0.36 at mysql://db/x · sessions: in-process memory · migrations: not run (MIGRATE_ON_START=0), pending Migration3_More ·',
    );
    expect(startupSummary({ ...facts, migrations: { pending: [] } }).msg).toContain(
      'migrations: not run (MIGRATE_ON_START=0), none pending',
    );
    expect(startupSummary({ ...facts, migrations: { pending: undefined } }).msg).toContain(
      'migrations: not run (MIGRATE_ON_START=0), pending unknown',
    );
  });
});

describe('GraphiQL content negotiation', () => {
  it.each([
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, deflate', 'gzip'],
    ['br;q=0.5, gzip', 'gzip'],
    ['gzip, br;q=0', 'gzip'],
    ['BR', 'br'],
    ['*', 'br'],
    ['gzip;q=0, *;q=0.1', 'br'],
    ['identity', undefined],
    ['gzip;q=0, br;q=0', undefined],
    ['', undefined],
  ])('when Accept-Encoding is %j, then the page goes as %s', (header, encoding) => {
    expect(pickEncoding(header)).toBe(encoding);
  });
});
