import { LOGIN, startServer } from '../support/server';
import { freshDatabase, target } from '../support/target';
import { spawnServer } from '../support/process-server';
import { SIMULATOR_PREFIX } from '../../src/app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('graceful shutdown', () => {
  it('when close() starts while a request is in flight, then that request completes and new connections are refused', async () => {
    const t = await startServer();
    // The code exchange takes 800 ms at "WeChat", so the login is in flight when shutdown begins.
    const { code } = await t.sim.loginCode({ fault: { delayMs: 800 } });
    const inFlight = t.gql<{ login: { token: string } }>(LOGIN, { code });
    await sleep(200);
    const closing = t.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.data?.login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await closing;
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  });

  it('when in-flight requests outlast SHUTDOWN_TIMEOUT_MS, then their connections are cut and close() still finishes', async () => {
    const t = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '200' } });
    const { code } = await t.sim.loginCode({ fault: { delayMs: 4000 } });
    const inFlight = t.gql(LOGIN, { code }).then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(200);
    await t.close();
    expect(await inFlight).toBe('cut');
  });

  it('when the built server gets SIGTERM mid-request, then the request completes and the process exits 0', async () => {
    const db = await freshDatabase();
    const child = await spawnServer({ DATABASE_URL: db.url, ...(target.kind === 'services' ? { REDIS_URL: target.redisUrl } : {}) });
    try {
      const mint = await fetch(`${child.url}${SIMULATOR_PREFIX}/dev/login-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: { delayMs: 800 } }) });
      const { code } = (await mint.json()) as { code: string };
      const inFlight = fetch(`${child.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: LOGIN, variables: { code } }) });
      await sleep(200);
      child.kill('SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: { login: { token: string } } | null; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data?.login.token).toBeDefined();
      expect(await child.exited).toBe(0);
      expect(child.output()).toContain('shutting down');
    } finally {
      child.kill('SIGKILL');
      await db.drop();
    }
  });
});
