import { Writable } from 'node:stream';
import { createCache } from '../../src/core/cache';
import { createLogger } from '../../src/core/logger';
import { LOGIN, ME, codeOf, startServer, type TestServer } from '../support/server';
import { TcpProxy } from '../support/tcp-proxy';
import { describeServices, redisNamespace, proxiedRedis, redisUrlVia, target } from '../support/target';
import { eventually } from '../support/eventually';

describeServices('when Redis becomes unreachable', () => {
  let t: TestServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    if (target.kind !== 'services') return;
    const proxied = await proxiedRedis();
    proxy = proxied.proxy;
    t = await startServer({ env: { REDIS_URL: proxied.url, CACHE_TIMEOUT_MS: '2000' } });
  });
  afterAll(async () => {
    await proxy?.stop();
    await t?.close();
  });

  it('then requests get SERVICE_UNAVAILABLE, the process stays up, and it serves again once Redis is back', async () => {
    const a = await t.login();
    expect((await t.gql(ME, {}, a.token)).data).not.toBeNull();
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);

    await proxy.cut();

    const me = await t.gql(ME, {}, a.token);
    // Not UNAUTHENTICATED: the token is fine, the store is not, and the client should retry rather than re-login.
    expect(codeOf(me)).toBe('SERVICE_UNAVAILABLE');
    expect(me.data).toBeNull();

    const { code } = await t.sim.loginCode();
    const login = await t.gql(LOGIN, { code });
    expect(codeOf(login)).toBe('SERVICE_UNAVAILABLE');

    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ store: 'down', database: 'ok' });
    // Liveness stays up: restarting the process would not bring Redis back.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);

    await proxy.restore();

    expect(await eventually(async () => (await fetch(`${t.url}/readyz`)).status === 200, 15000)).toBe(true);
    const after = await t.gql<{ me: { openid: string } }>(ME, {}, a.token);
    expect(after.data?.me.openid).toBe(a.openid);
    await t.login();
  });

  it('when Redis is still unreachable at shutdown, then close() finishes anyway', async () => {
    const cutProxy = new TcpProxy({ host: '127.0.0.1', port: 9 });
    const port = await cutProxy.start();
    await cutProxy.cut();
    const s = await startServer({ env: { REDIS_URL: redisUrlVia(port), CACHE_TIMEOUT_MS: '300' } });
    await s.gql(ME, {}, 'A'.repeat(43));
    await s.gql(ME, {}, 'B'.repeat(43));
    await fetch(`${s.url}/readyz`);
    await s.close();
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });

  const silent = () => createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

  it('when the store has only just been created, then a call waits for its first connection instead of being refused', async () => {
    if (target.kind !== 'services') return;
    const cache = createCache({
      redisUrl: target.redisUrl,
      namespace: redisNamespace,
      timeoutMs: 2000,
      logger: silent(),
    });
    await cache.set('just-created', 1, 10000);
    expect(await cache.get('just-created')).toBe(1);
    await cache.delete('just-created');
    expect(await cache.get('just-created')).toBeUndefined();
    await cache.close();
  });

  it('when the store has been closed, then a later call is refused and opens no connection that would keep the process alive', async () => {
    if (target.kind !== 'services') return;
    const { proxy: hop, url: redisUrl } = await proxiedRedis();
    const cache = createCache({
      redisUrl,
      namespace: redisNamespace,
      timeoutMs: 2000,
      logger: silent(),
    });
    await cache.ping();
    await cache.close();
    const opened = hop.accepted;

    await expect(cache.get('late')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await new Promise((r) => setTimeout(r, 300));
    expect(hop.accepted).toBe(opened);
    await hop.stop();
  });
});
