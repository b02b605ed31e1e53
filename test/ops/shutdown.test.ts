import { LOGIN, startServer } from '../support/server';
import { freshDatabase, redisNamespace, target } from '../support/target';
import { spawnServer } from '../support/process-server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { arrivalOf, beforeAnswer } from '../support/arrival';

// Shutdown begins once the login's code exchange has reached "WeChat" (its answer is delayed), never after a
// fixed sleep: under CI load a sleep could end before the request was made, and with the in-process simulator
// the exchange would then find the port already closed.
const CODE2SESSION = '/sns/jscode2session';

describe('graceful shutdown', () => {
  it('when close() starts while a request is in flight, then that request completes and new connections are refused', async () => {
    const t = await startServer();
    let closing: Promise<void> | undefined;
    try {
      const { code } = await t.sim.loginCode({ fault: { delayMs: 800 } });
      const exchanging = arrivalOf(t.server.app.server, CODE2SESSION);
      const inFlight = t.gql<{ login: { token: string } }>(LOGIN, { code });
      await beforeAnswer(exchanging, inFlight, 'the code exchange reached the simulator');
      closing = t.close();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.errors).toBeUndefined();
      expect(res.data?.login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await closing;
      await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
    } finally {
      // A failure before close() must not leave the server holding jest open.
      await (closing ?? t.close());
    }
  });

  it('when in-flight requests outlast SHUTDOWN_TIMEOUT_MS, then their connections are cut and close() still finishes', async () => {
    const t = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '200' } });
    let closing: Promise<void> | undefined;
    try {
      const { code } = await t.sim.loginCode({ fault: { delayMs: 4000 } });
      const exchanging = arrivalOf(t.server.app.server, CODE2SESSION);
      const inFlight = t.gql(LOGIN, { code }).then(
        () => 'answered',
        () => 'cut',
      );
      await beforeAnswer(exchanging, inFlight, 'the code exchange reached the simulator');
      closing = t.close();
      await closing;
      expect(await inFlight).toBe('cut');
    } finally {
      await (closing ?? t.close());
    }
  });

  it('when the built server gets SIGTERM mid-request, then the request completes and the process exits 0', async () => {
    const db = await freshDatabase();
    // A separate simulator, so the test can see the exchange arrive in the other process's place.
    const sim = await startStandaloneSimulator();
    const child = await spawnServer({
      DATABASE_URL: db.url,
      ...sim.env(),
      ...(target.kind === 'services' ? { REDIS_URL: target.redisUrl, REDIS_NAMESPACE: redisNamespace } : {}),
    });
    try {
      const { code } = await sim.loginCode({ fault: { delayMs: 800 } });
      const exchanging = arrivalOf(sim.server, CODE2SESSION);
      const inFlight = fetch(`${child.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: LOGIN, variables: { code } }),
      });
      await beforeAnswer(exchanging, inFlight, 'the code exchange reached the simulator');
      child.kill('SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: { login: { token: string } } | null; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data?.login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await child.exited).toBe(0);
      expect(child.output()).toContain('shutting down');
    } finally {
      child.kill('SIGKILL');
      await sim.close();
      await db.drop();
    }
  });
});
