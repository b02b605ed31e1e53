import { randomBytes } from 'node:crypto';
import { startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';

const scrape = (t: TestServer, authorization?: string) =>
  fetch(`${t.url}/metrics`, { headers: authorization ? { authorization } : {} });

describe('/metrics access', () => {
  let sim: Awaited<ReturnType<typeof startStandaloneSimulator>>;
  beforeAll(async () => {
    sim = await startStandaloneSimulator();
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('when NODE_ENV=production and METRICS_TOKEN is set, then only its Bearer token scrapes; anything else is 401, and the token is never logged', async () => {
    const token = randomBytes(24).toString('base64url');
    const t = await startServer({
      env: { NODE_ENV: 'production', METRICS_TOKEN: token, LOG_LEVEL: 'trace', ...sim.env() },
    });
    try {
      const ok = await scrape(t, `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/process_cpu_user_seconds_total/);
      for (const wrong of [
        undefined,
        'Bearer',
        `Bearer ${token}x`,
        `Bearer ${token.slice(0, -1)}`,
        `Basic ${token}`,
        token,
      ]) {
        const res = await scrape(t, wrong);
        expect(res.status).toBe(401);
        expect(await res.text()).not.toMatch(/process_cpu/);
      }
      expect(t.logs.length).toBeGreaterThan(0);
      expect(t.logs.filter((line) => line.includes(token))).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('when NODE_ENV=production and METRICS_TOKEN is not set, then /metrics is off (404)', async () => {
    const t = await startServer({ env: { NODE_ENV: 'production', ...sim.env() } });
    try {
      expect((await scrape(t)).status).toBe(404);
      expect((await scrape(t, 'Bearer anything-at-all-here')).status).toBe(404);
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('when not in production, then /metrics stays open, with or without METRICS_TOKEN', async () => {
    for (const env of [
      { NODE_ENV: 'development' },
      { NODE_ENV: 'development', METRICS_TOKEN: randomBytes(24).toString('base64url') },
    ]) {
      const t = await startServer({ env });
      try {
        expect((await scrape(t)).status).toBe(200);
      } finally {
        await t.close();
      }
    }
  });
});
