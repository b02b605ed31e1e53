// @ts-check
/**
 * The run's global setup: picks the run's Redis namespace prefix (every suite's namespace starts with it, see
 * redis-environment.js), and notes the keys already under the server's default namespace, so that the global
 * teardown can tell whether a test wrote there, outside any namespace of the run.
 */
const { randomBytes } = require('node:crypto');
const { withClient, keysUnder } = require('./redis-keys');

module.exports = async function setup() {
  process.env.TEST_REDIS_RUN = `wxmp-test-${randomBytes(4).toString('hex')}`;
  // Set by jest.config.js when the services project runs.
  const url = process.env.TEST_RUN_REDIS_URL;
  if (url) globalThis.__defaultNamespaceKeys = new Set(await withClient(url, (client) => keysUnder(client, 'wxmp')));
};
