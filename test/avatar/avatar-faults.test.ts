import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServer, type TestServer } from '../support/server';
import { TcpProxy } from '../support/tcp-proxy';
import { describeServices, freshDatabase, redisUrlVia, target, type TestDatabase } from '../support/target';
import { eventually, timed } from '../support/eventually';

// The embedded target has no network hop to freeze, so these run on MariaDB and Redis only. Generous bounds (CI is loaded).
const TIMEOUT_MS = 1500;
const BOUND_MS = 2 * TIMEOUT_MS + 3000;

const JPEG = () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(800)]);

async function upload(t: TestServer, token: string) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(JPEG())], { type: 'image/jpeg' }), 'a.jpg');
  const res = await fetch(`${t.url}/avatar`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${token}` },
  });
  const json = (await res.json()) as { url?: string; errors?: { message: string; extensions?: { code?: string } }[] };
  return {
    status: res.status,
    code: json.errors?.[0]?.extensions?.code,
    message: json.errors?.[0]?.message,
    url: json.url,
  };
}

describeServices('POST /avatar when a backing service freezes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'avatars-faults-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when Redis (the session store) freezes, then 503 SERVICE_UNAVAILABLE within CACHE_TIMEOUT_MS and nothing stored; after the thaw the same server stores uploads', async () => {
    if (target.kind !== 'services') throw new Error('services only');
    const redis = new URL(target.redisUrl);
    const proxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const t = await startServer({
      env: { REDIS_URL: redisUrlVia(await proxy.start()), CACHE_TIMEOUT_MS: String(TIMEOUT_MS), AVATAR_DIR: dir },
    });
    try {
      const a = await t.login();
      proxy.freeze();
      const call = await timed(() => upload(t, a.token));
      expect([call.result.status, call.result.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect(call.result.message).toContain('session store');
      expect(call.ms).toBeLessThan(BOUND_MS);
      expect(readdirSync(dir)).toEqual([]);
      proxy.thaw();
      expect(await eventually(async () => (await upload(t, a.token)).status === 200, 15000)).toBe(true);
      expect(readdirSync(dir)).toHaveLength(1);
    } finally {
      await proxy.stop();
      await t.close();
    }
  });

  it('when the database freezes after the image is written, then 503 SERVICE_UNAVAILABLE within DATABASE_TIMEOUT_MS and the image is removed; after the thaw uploads are stored and recorded', async () => {
    if (target.kind !== 'services') throw new Error('services only');
    const database: TestDatabase = await freshDatabase();
    const real = new URL(database.url);
    const proxy = new TcpProxy({ host: real.hostname, port: Number(real.port || 3306) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await proxy.start());
    const t = await startServer({
      database: { url: proxied.toString(), drop: async () => undefined },
      env: { DATABASE_TIMEOUT_MS: String(TIMEOUT_MS), AVATAR_DIR: dir },
    });
    try {
      const a = await t.login();
      proxy.freeze();
      const call = await timed(() => upload(t, a.token));
      expect([call.result.status, call.result.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect(call.ms).toBeLessThan(BOUND_MS);
      expect(readdirSync(dir)).toEqual([]);
      proxy.thaw();
      let stored: string | undefined;
      expect(
        await eventually(async () => {
          stored = (await upload(t, a.token)).url;
          return Boolean(stored);
        }, 15000),
      ).toBe(true);
      expect(readdirSync(dir)).toContain(stored!.split('/').pop());
    } finally {
      await proxy.stop();
      await t.close();
      await database.drop();
    }
  });
});
