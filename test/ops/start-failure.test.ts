import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { ConfigError, loadConfig } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { markServicesSuite } from '../support/server';
import { describeServices, proxiedDatabase, proxiedRedis, target } from '../support/target';
import { eventually } from '../support/eventually';

describeServices('a start that fails after the database and the stores opened', () => {
  it('when a later start step throws, then createApp rejects with its error and leaves no database or Redis connection open', async () => {
    if (target.kind !== 'services') throw new Error('services only');
    markServicesSuite();
    const { database, proxy: dbProxy, url: databaseUrl } = await proxiedDatabase();
    const { proxy: redisProxy, url: redisUrl } = await proxiedRedis();
    const empty = mkdtempSync(join(tmpdir(), 'no-tls-'));
    try {
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
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
