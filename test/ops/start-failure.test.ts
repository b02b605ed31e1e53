import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { ConfigError, loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { markServicesSuite } from '../support/server';
import { describeServices, freshDatabase, redisUrlVia, target } from '../support/target';
import { TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/eventually';

describeServices('a start that fails after the database and the stores opened', () => {
  it('when a later start step throws, then createApp rejects with its error and leaves no database or Redis connection open', async () => {
    if (target.kind !== 'services') throw new Error('services only');
    markServicesSuite();
    const database = await freshDatabase();
    const db = new URL(database.url);
    const redis = new URL(target.redisUrl);
    const dbProxy = new TcpProxy({ host: db.hostname, port: Number(db.port || 3306) });
    const redisProxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await dbProxy.start());
    const empty = mkdtempSync(join(tmpdir(), 'no-tls-'));
    try {
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        DATABASE_URL: proxied.toString(),
        REDIS_URL: redisUrlVia(await redisProxy.start()),
        // The simulator is mounted after the database opened: a directory without its certificates stops the start.
        SIMULATOR_TLS_DIR: empty,
      });
      const start = createApp(config, { logger: createLogger('silent') });
      await expect(start).rejects.toBeInstanceOf(ConfigError);
      await expect(start).rejects.toThrow(/SIMULATOR_TLS_DIR: cannot read \S*\/server\.pem \(ENOENT\)/);
      expect(await eventually(async () => dbProxy.connections === 0 && redisProxy.connections === 0, 5000)).toBe(true);
    } finally {
      rmSync(empty, { recursive: true, force: true });
      await dbProxy.stop();
      await redisProxy.stop();
      await database.drop();
    }
  });
});
