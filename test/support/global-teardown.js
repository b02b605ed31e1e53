// @ts-check
/**
 * The run's global teardown: the check that the suites cleaned up after themselves in Redis. It looks for keys left
 * under the run's namespace prefix (global-setup.js) in the database TEST_REDIS_URL names. Any session (`sess:`) or
 * counter left there is a suite that did not clean up: the run fails, naming the suites, and the keys are deleted
 * so that the next run starts clean.
 *
 * Keys that appeared under the server's default namespace (`wxmp`) during the run came from a test that started a
 * server without the suite's REDIS_NAMESPACE, or from another server on that database. In CI nothing else uses it,
 * so there they fail the run too; elsewhere they are reported.
 */
const { runPrefix, withClient, keysUnder, deleteUnder } = require('./redis-keys');

const countSessions = (keys) => keys.filter((k) => k.includes('::sess:')).length;

/** Host, port and database, without credentials. */
function where(url) {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 6379}/${u.pathname.replace(/^\//, '') || '0'}`;
}

module.exports = async function teardown() {
  // Set by jest.config.js when the services project runs.
  const url = process.env.TEST_RUN_REDIS_URL;
  if (!url) return;
  const prefix = runPrefix();
  const { left, unnamespaced } = await withClient(url, async (client) => {
    const keys = await keysUnder(client, prefix);
    if (keys.length) await deleteUnder(client, prefix);
    const before = globalThis.__defaultNamespaceKeys ?? new Set();
    return { left: keys, unnamespaced: (await keysUnder(client, 'wxmp')).filter((k) => !before.has(k)) };
  });
  if (unnamespaced.length) {
    const n = unnamespaced.length;
    const message = `${n} key(s) (${countSessions(unnamespaced)} session key(s)) appeared in Redis ${where(url)} under the default namespace wxmp during the run: a test server without REDIS_NAMESPACE (the harness passes the suite's), or another server on that database.`;
    if (process.env.CI === 'true' && !left.length) throw new Error(message);
    console.warn(`[jest] ${message}`);
  }
  if (!left.length) return;
  const bySuite = new Map();
  for (const key of left) {
    // `<run>.<suite>.<random>[.<nested>]:…` → the suite's name, and whether the key was a session.
    const [suite] = key.slice(prefix.length + 1).split('.');
    const entry = bySuite.get(suite) ?? { sessions: 0, others: 0 };
    if (key.includes('::sess:')) entry.sessions++;
    else entry.others++;
    bySuite.set(suite, entry);
  }
  const lines = [...bySuite].map(([suite, n]) => `  ${suite}: ${n.sessions} session key(s), ${n.others} other key(s)`);
  throw new Error(
    `Tests left ${left.length} key(s) in Redis ${where(url)} under ${prefix}.* (now deleted):\n${lines.join('\n')}`,
  );
};
