import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SIMULATOR_PREFIX } from '../../src/app';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { pushSignature } from '../../src/wechat/push';
import { codeOf, LOGIN, startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { TcpProxy } from '../support/tcp-proxy';
import { describeServices, proxiedDatabase, proxiedRedis, target } from '../support/target';
import { eventually, timed } from '../support/eventually';
import { simulatorDev } from '../support/simulator-dev';

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
    const { proxy, url: redisUrl } = await proxiedRedis();
    const t = await startServer({
      env: { REDIS_URL: redisUrl, CACHE_TIMEOUT_MS: String(TIMEOUT_MS), AVATAR_DIR: dir },
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
    const { database, proxy, url: proxied } = await proxiedDatabase();
    const t = await startServer({
      database: { url: proxied, drop: async () => undefined },
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

const SET = `mutation Set($avatarUrl: String) { setProfile(avatarUrl: $avatarUrl) { avatarUrl avatarReview } }`;
const ME = `query { me { avatarUrl avatarReview } }`;
type Review = { avatarUrl: string | null; avatarReview: string | null };

/** A signed wxa_media_check push to `t`, with a fixed (timestamp, nonce) so that a retry is the same push. */
function mediaCheckPush(t: TestServer, traceId: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(6).toString('hex');
  const query = new URLSearchParams({
    signature: pushSignature(SIMULATOR_IDENTITY.pushToken, timestamp, nonce),
    timestamp,
    nonce,
  });
  const body = JSON.stringify({
    MsgType: 'event',
    Event: 'wxa_media_check',
    appid: SIMULATOR_IDENTITY.appid,
    trace_id: traceId,
    version: 2,
    result: { suggest: 'pass', label: 100 },
  });
  return async () => {
    const res = await fetch(`${t.url}/wechat/push?${query}`, { method: 'POST', body });
    return { status: res.status, text: await res.text() };
  };
}

describeServices('the avatar review when a backing service or WeChat freezes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'avatar-review-faults-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Logs in, uploads, and submits with the simulator holding its verdict: answers the pending upload's trace_id. */
  async function pending(t: TestServer) {
    const sim = `${t.url}${SIMULATOR_PREFIX}`;
    await simulatorDev(sim, '/dev/media-check/hold', { hold: true });
    const a = await t.login();
    const { url } = await upload(t, a.token);
    const set = await t.gql<{ setProfile: Review }>(SET, { avatarUrl: url }, a.token);
    expect(set.data!.setProfile.avatarReview).toBe('PENDING');
    const { checks } = await simulatorDev<{ checks: { traceId: string; mediaUrl: string }[] }>(sim, '/dev/media-check');
    const me = async () => (await t.gql<{ me: Review }>(ME, {}, a.token)).data!.me;
    return { traceId: checks.find((c) => c.mediaUrl === url)!.traceId, url: url!, me };
  }

  /**
   * Pushes the pending upload's result while `proxy` (to the database or to Redis) is frozen: 503 within the bound.
   * After the thaw WeChat pushes the same event again: its (timestamp, nonce) was handed back, so it is handled,
   * not refused as a replay, and the avatar is shown.
   */
  async function frozenPushThenSettled(t: TestServer, proxy: TcpProxy) {
    const { traceId, url, me } = await pending(t);
    const push = mediaCheckPush(t, traceId);
    proxy.freeze();
    const frozen = await timed(push);
    expect(frozen.result.status).toBe(503);
    expect(frozen.ms).toBeLessThan(BOUND_MS);
    proxy.thaw();
    expect(await eventually(async () => (await push()).text === 'success', 15000)).toBe(true);
    expect(await me()).toEqual({ avatarUrl: url, avatarReview: 'PASSED' });
  }

  it('when the database freezes as the result is pushed, then 503 within DATABASE_TIMEOUT_MS, and the same push after the thaw settles it', async () => {
    const { database, proxy, url: proxied } = await proxiedDatabase();
    const t = await startServer({
      database: { url: proxied, drop: async () => undefined },
      env: { DATABASE_TIMEOUT_MS: String(TIMEOUT_MS), AVATAR_DIR: dir },
    });
    try {
      await frozenPushThenSettled(t, proxy);
    } finally {
      await proxy.stop();
      await t.close();
      await database.drop();
    }
  });

  it('when Redis (the nonce store) freezes as the result is pushed, then 503 within CACHE_TIMEOUT_MS, and the same push after the thaw settles it', async () => {
    if (target.kind !== 'services') throw new Error('services only');
    const { proxy, url: redisUrl } = await proxiedRedis();
    const t = await startServer({
      env: { REDIS_URL: redisUrl, CACHE_TIMEOUT_MS: String(TIMEOUT_MS), AVATAR_DIR: dir },
    });
    try {
      await frozenPushThenSettled(t, proxy);
    } finally {
      await proxy.stop();
      await t.close();
    }
  });

  it('when WeChat freezes as the image is submitted, then WECHAT_UNAVAILABLE within the bound and nothing is pending; after the thaw it is submitted, pushed and shown', async () => {
    const sim = await startStandaloneSimulator();
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(sim.base).port) });
    const port = await proxy.start();
    const t = await startServer({
      env: {
        ...sim.env(),
        WECHAT_API_BASE: `http://127.0.0.1:${port}`,
        WECHAT_TIMEOUT_MS: String(TIMEOUT_MS),
        AVATAR_DIR: dir,
      },
    });
    sim.pushTo(`${t.url}/wechat/push`);
    try {
      const { code } = await sim.loginCode();
      const token = (await t.gql<{ login: { token: string } }>(LOGIN, { code })).data!.login.token;
      const me = async () => (await t.gql<{ me: Review }>(ME, {}, token)).data!.me;
      const { url } = await upload(t, token);
      // Warm the access_token, then WeChat hangs.
      await t.gql(`mutation { setProfile(nickname: "warm") { id } }`, {}, token);
      proxy.freeze();
      const frozen = await timed(() => t.gql<{ setProfile: Review }>(SET, { avatarUrl: url }, token));
      expect(codeOf(frozen.result)).toBe('WECHAT_UNAVAILABLE');
      expect(frozen.result.errors![0].extensions).toMatchObject({ api: 'media_check_async' });
      expect(frozen.ms).toBeLessThan(BOUND_MS);
      expect(await me()).toEqual({ avatarUrl: null, avatarReview: null });
      proxy.thaw();
      const again = await t.gql<{ setProfile: Review }>(SET, { avatarUrl: url }, token);
      expect(again.errors).toBeUndefined();
      expect(await eventually(async () => (await me()).avatarReview === 'PASSED', 15000)).toBe(true);
      expect(await me()).toEqual({ avatarUrl: url, avatarReview: 'PASSED' });
    } finally {
      await proxy.stop();
      await t.close();
      await sim.close();
    }
  });
});
