// @ts-check
/**
 * Where the tests' keys live in Redis, and how they are removed. Shared by the suites' environment
 * (redis-environment.js), the run's global setup and teardown (redis-run.js), and the harness (target.ts).
 *
 * Every key a test server writes is under its REDIS_NAMESPACE (`<ns>::sess:…`, `<ns>:counter:…`), in the database
 * TEST_REDIS_URL names. A run's namespaces all start with `<run>.`, and a suite's with `<run>.<suite>.<random>`, so a
 * suite deletes exactly what it wrote and the run can tell whether anything of its making was left.
 */
const { createClient } = require('@redis/client');

/** The run's prefix: set once by the global setup, inherited by every suite of the run. */
const runPrefix = () => process.env.TEST_REDIS_RUN || 'wxmp-test';

/** Every key under `namespace` and under the namespaces nested in it (`<namespace>.<more>`). */
const patternsOf = (namespace) => [`${namespace}:*`, `${namespace}.*`];

/** Runs `run` with a client of its own on the database `url` names, then lets the client go. */
async function withClient(url, run) {
  const client = createClient({ url, socket: { connectTimeout: 3000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    client.destroy();
  }
}

/** The keys under `namespace` and its nested namespaces. */
async function keysUnder(client, namespace) {
  const keys = [];
  for (const pattern of patternsOf(namespace)) {
    for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) keys.push(...batch);
  }
  return keys;
}

/** Deletes every key under `namespace`; answers how many there were. */
async function deleteUnder(client, namespace) {
  const keys = await keysUnder(client, namespace);
  for (let i = 0; i < keys.length; i += 500) await client.del(keys.slice(i, i + 500));
  return keys.length;
}

module.exports = { runPrefix, withClient, keysUnder, deleteUnder };
