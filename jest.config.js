// @ts-check
const net = require('node:net');

/**
 * Two projects run the same suites:
 *  - "embedded": the defaults a newcomer gets (libsql file database, in-process store). Always runs.
 *  - "services": real MariaDB + Redis (TEST_DATABASE_URL, TEST_REDIS_URL). Runs when both answer;
 *    with REQUIRE_SERVICES=1 (CI) a missing service fails the run instead of skipping it.
 * In Redis each suite writes under a namespace of its own in TEST_REDIS_URL's database, deleted when it ends
 * (test/support/redis-environment.js); the global teardown fails the run if any key of the run is left.
 */
const transform = {
  '^.+\\.(t|j)s$': [
    '@swc/jest',
    {
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
      },
      module: { type: 'commonjs' },
    },
  ],
};

const common = {
  // Node's, plus a Redis namespace of the suite's own whose keys are deleted when the suite ends.
  testEnvironment: '<rootDir>/test/support/redis-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['reflect-metadata'],
  transform,
  // MikroORM and a few of its dependencies ship ESM only.
  transformIgnorePatterns: ['/node_modules/(?!(@mikro-orm|kysely|cookie)/)'],
};

const mysqlUrl = process.env.TEST_DATABASE_URL || 'mysql://root@127.0.0.1:3306/test';
const redisUrl = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

module.exports = async () => {
  const [db, redis] = await Promise.all([reachable(mysqlUrl), reachable(redisUrl)]);
  const services = db && redis;
  if (!services) {
    const missing = [!db && `MariaDB at ${mysqlUrl}`, !redis && `Redis at ${redisUrl}`].filter(Boolean).join(' and ');
    if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but ${missing} did not answer`);
    console.warn(`[jest] ${missing} did not answer: skipping the "services" project (embedded suites still run)`);
  }
  // For the global teardown's check that no suite left keys in that Redis database.
  if (services) process.env.TEST_RUN_REDIS_URL = redisUrl;
  return {
    testTimeout: 30000,
    globalSetup: '<rootDir>/test/support/global-setup.js',
    globalTeardown: '<rootDir>/test/support/global-teardown.js',
    projects: [
      { ...common, displayName: 'embedded', globals: { TEST_TARGET: { kind: 'embedded' } } },
      ...(services
        ? [
            {
              ...common,
              displayName: 'services',
              // Pure unit tests do not touch a service; running them twice proves nothing.
              testPathIgnorePatterns: ['/test/unit/'],
              globals: { TEST_TARGET: { kind: 'services', mysqlUrl, redisUrl } },
            },
          ]
        : []),
    ],
  };
};
