// @ts-check
/**
 * The test environment of every suite: Node's, plus the suite's own Redis namespace. The harness gives it to every
 * server the suite starts (REDIS_NAMESPACE), in the database TEST_REDIS_URL names; when the suite is over (its
 * servers closed, its afterAll hooks run) every key under it is deleted, so a suite leaves nothing behind in Redis.
 */
const { basename } = require('node:path');
const { randomBytes } = require('node:crypto');
const { TestEnvironment } = require('jest-environment-node');
const { runPrefix, withClient, deleteUnder } = require('./redis-keys');

class RedisSuiteEnvironment extends TestEnvironment {
  /** @param {any} config @param {any} context */
  constructor(config, context) {
    super(config, context);
    const target = config.projectConfig.globals.TEST_TARGET;
    /** @type {string | undefined} */
    this.redisUrl = target && target.kind === 'services' ? target.redisUrl : undefined;
    const suite = basename(context.testPath)
      .replace(/\.test\.[jt]s$/, '')
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 30);
    // REDIS_NAMESPACE allows 64 of [A-Za-z0-9_.-]: the run's 18, the suite's at most 30, 7 random, and room to nest.
    this.namespace = `${runPrefix()}.${suite}.${randomBytes(3).toString('hex')}`;
    this.global.TEST_REDIS_NAMESPACE = this.namespace;
  }

  async teardown() {
    try {
      if (this.redisUrl) await withClient(this.redisUrl, (client) => deleteUnder(client, this.namespace));
    } finally {
      await super.teardown();
    }
  }
}

module.exports = RedisSuiteEnvironment;
