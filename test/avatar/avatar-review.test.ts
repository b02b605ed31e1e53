import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_PREFIX } from '../../src/app';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { pushSignature } from '../../src/wechat/push';
import { codeOf, markServicesSuite, startServer, type TestServer } from '../support/server';
import { freshDatabase, onServices, redisNamespace, type TestDatabase } from '../support/target';
import { eventually } from '../support/eventually';
import { simulatorDev } from '../support/simulator-dev';
import { avatarRepository } from '../../src/avatar/avatar.repository';

if (onServices) markServicesSuite();

const SET = `mutation Set($nickname: String, $avatarUrl: String) { setProfile(nickname: $nickname, avatarUrl: $avatarUrl) { id nickname avatarUrl avatarReview } }`;
const ME = `query { me { id nickname avatarUrl avatarReview } }`;
const TOKEN: string = SIMULATOR_IDENTITY.pushToken;

const PNG_HEAD = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);
/** An image the simulator's check passes, and one it refuses (its bytes carry the RISKY marker, as a tEXt chunk would). */
const cleanImage = () => Buffer.concat([PNG_HEAD, randomBytes(200).map((b) => (b === 0x52 ? 0x53 : b))]);
const riskyImage = () => Buffer.concat([PNG_HEAD, Buffer.from('tEXtComment\0RISKY'), Buffer.alloc(64)]);

type Shown = { id: string; nickname: string | null; avatarUrl: string | null; avatarReview: string | null };
type Check = { traceId: string; mediaUrl: string; verdict?: { suggest: string; fetched: boolean }; pushes: unknown[] };

describe('setProfile(avatarUrl): WeChat image check, pushed result, /wechat/push', () => {
  let t: TestServer;
  let sim: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'avatar-review-'));
    t = await startServer({ env: { AVATAR_DIR: dir, REDIS_NAMESPACE: `${redisNamespace}.avatarreview` } });
    sim = `${t.url}${SIMULATOR_PREFIX}`;
  });
  afterEach(async () => {
    await devPost('/dev/media-check/hold', { hold: false });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const devPost = <T = Record<string, unknown>>(path: string, body: unknown) => simulatorDev<T>(sim, path, body);
  const mediaChecks = () => simulatorDev<{ calls: number; checks: Check[] }>(sim, '/dev/media-check');
  const upload = async (token: string, data: Buffer) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(data)], { type: 'image/png' }), 'avatar.png');
    const res = await fetch(`${t.url}/avatar`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { url: string }).url;
  };
  const set = (token: string, vars: { nickname?: string; avatarUrl?: string }) =>
    t.gql<{ setProfile: Shown }>(SET, vars, token);
  const me = async (token: string) => (await t.gql<{ me: Shown }>(ME, {}, token)).data!.me;
  const settled = (token: string) => eventually(async () => (await me(token)).avatarReview !== 'PENDING', 10_000);
  /** A push as WeChat signs it: sha1 over the sorted token, timestamp and nonce; the body is not covered. */
  const push = (
    body: unknown,
    { token = TOKEN, timestamp = String(Math.floor(Date.now() / 1000)), nonce = randomBytes(6).toString('hex') } = {},
  ) =>
    fetch(
      `${t.url}/wechat/push?${new URLSearchParams({ signature: pushSignature(token, timestamp, nonce), timestamp, nonce })}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    );
  const event = (traceId: string, suggest: string, label: number | string = 100) => ({
    ToUserName: 'gh_0123456789ab',
    FromUserName: 'oAny',
    CreateTime: Math.floor(Date.now() / 1000),
    MsgType: 'event',
    Event: 'wxa_media_check',
    appid: SIMULATOR_IDENTITY.appid,
    trace_id: traceId,
    version: 2,
    detail: [{ strategy: 'content_model', errcode: 0, suggest, label, prob: 90 }],
    errcode: 0,
    errmsg: 'ok',
    result: { suggest, label },
  });
  /** Passes `url` through the whole review, for a user who needs a shown avatar to begin with. */
  const passed = async (token: string, url: string) => {
    expect((await set(token, { avatarUrl: url })).errors).toBeUndefined();
    expect(await settled(token)).toBe(true);
    expect(await me(token)).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
  };

  /** A user's clean upload, set while the simulator holds its verdict: PENDING under `traceId`. */
  const pendingUpload = async () => {
    const a = await t.login();
    await devPost('/dev/media-check/hold', { hold: true });
    const url = await upload(a.token, cleanImage());
    await set(a.token, { avatarUrl: url });
    const { traceId } = (await mediaChecks()).checks.find((c) => c.mediaUrl === url)!;
    return { a, url, traceId };
  };
  /** Makes the submission under `traceId` two hours old, its result overdue; answers the EntityManager used. */
  const makeOverdue = async (traceId: string) => {
    const em = t.server.orm.em.fork();
    const hoursAgo = em.getPlatform().processDateProperty(new Date(Date.now() - 2 * 3600_000)) as Date;
    await em.getConnection().execute('update avatars set submitted_at = ? where trace_id = ?', [hoursAgo, traceId]);
    return em;
  };

  it('when a clean upload is set, then it is PENDING with the old avatar shown, WeChat fetches it, and its pass shows it', async () => {
    const a = await t.login();
    const first = await upload(a.token, cleanImage());
    await passed(a.token, first);

    await devPost('/dev/media-check/hold', { hold: true });
    const second = await upload(a.token, cleanImage());
    const before = (await mediaChecks()).calls;
    const res = await set(a.token, { avatarUrl: second });
    expect(res.errors).toBeUndefined();
    expect(res.data!.setProfile).toMatchObject({ avatarUrl: first, avatarReview: 'PENDING' });
    expect(await me(a.token)).toMatchObject({ avatarUrl: first, avatarReview: 'PENDING' });
    const checks = await mediaChecks();
    expect(checks.calls).toBe(before + 1);
    const check = checks.checks.find((c) => c.mediaUrl === second)!;
    // The simulator downloaded the image from GET /avatars, as WeChat downloads media_url.
    expect(
      await eventually(
        async () => (await mediaChecks()).checks.some((c) => c.traceId === check.traceId && c.verdict?.fetched),
        5000,
      ),
    ).toBe(true);

    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: second, avatarReview: 'PASSED' });
  });

  it('when the image is risky, then it is REJECTED, never shown, removed from storage, and setting it again is CONTENT_RISKY without a new check', async () => {
    const a = await t.login();
    const good = await upload(a.token, cleanImage());
    await passed(a.token, good);
    const bad = await upload(a.token, riskyImage());
    expect((await fetch(bad)).status).toBe(200);

    const res = await set(a.token, { avatarUrl: bad });
    expect(res.errors).toBeUndefined();
    expect(res.data!.setProfile.avatarUrl).toBe(good);
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: good, avatarReview: 'REJECTED' });
    expect((await fetch(bad)).status).toBe(404);

    const calls = (await mediaChecks()).calls;
    const again = await set(a.token, { avatarUrl: bad });
    expect(codeOf(again)).toBe('CONTENT_RISKY');
    expect(again.errors![0].extensions).toMatchObject({ field: 'avatarUrl' });
    expect((await mediaChecks()).calls).toBe(calls);
    expect(await me(a.token)).toMatchObject({ avatarUrl: good, avatarReview: 'REJECTED' });
  });

  it('when a passed upload is set again, then it is shown at once and WeChat is not asked again', async () => {
    const a = await t.login();
    const one = await upload(a.token, cleanImage());
    const two = await upload(a.token, cleanImage());
    await passed(a.token, one);
    await passed(a.token, two);
    const calls = (await mediaChecks()).calls;
    const res = await set(a.token, { avatarUrl: one });
    expect(res.data!.setProfile).toMatchObject({ avatarUrl: one, avatarReview: 'PASSED' });
    expect((await mediaChecks()).calls).toBe(calls);
  });

  it('when the avatarUrl is another user’s upload or not one of ours, then BAD_USER_INPUT and no check is made', async () => {
    const a = await t.login();
    const b = await t.login();
    const bs = await upload(b.token, cleanImage());
    const calls = (await mediaChecks()).calls;
    for (const url of [bs, 'https://example.com/a.png', `${bs}?x=1`, `${t.url}/avatars/${'0'.repeat(32)}.png`, '']) {
      const res = await set(a.token, { avatarUrl: url });
      expect([url, codeOf(res)]).toEqual([url, 'BAD_USER_INPUT']);
      expect(res.errors![0].extensions).toMatchObject({ field: 'avatarUrl' });
    }
    expect((await mediaChecks()).calls).toBe(calls);
    expect(await me(a.token)).toMatchObject({ avatarUrl: null, avatarReview: null });
  });

  it('when the nickname beside it is risky, then CONTENT_RISKY, the avatar is not submitted, and nothing is written', async () => {
    const a = await t.login();
    const url = await upload(a.token, cleanImage());
    const calls = (await mediaChecks()).calls;
    const res = await set(a.token, { nickname: '我爱赌博', avatarUrl: url });
    expect(codeOf(res)).toBe('CONTENT_RISKY');
    expect(res.errors![0].extensions).toMatchObject({ field: 'nickname' });
    expect((await mediaChecks()).calls).toBe(calls);
    expect(await me(a.token)).toMatchObject({ nickname: null, avatarUrl: null, avatarReview: null });

    // Held, so the answer is seen PENDING: the simulator's verdict may otherwise arrive before setProfile answers.
    await devPost('/dev/media-check/hold', { hold: true });
    const both = await set(a.token, { nickname: '小明', avatarUrl: url });
    expect(both.data!.setProfile).toMatchObject({ nickname: '小明', avatarReview: 'PENDING' });
    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ nickname: '小明', avatarUrl: url, avatarReview: 'PASSED' });
  });

  it('when the result is pushed again, then it is taken and changes nothing', async () => {
    const a = await t.login();
    const url = await upload(a.token, cleanImage());
    await passed(a.token, url);
    const { traceId } = (await mediaChecks()).checks.find((c) => c.mediaUrl === url)!;
    const lines = t.logs.length;
    const again = await devPost<{ status: number; body: string }>('/dev/media-check/push', { traceId });
    expect(again).toEqual({ status: 200, body: 'success' });
    // A forged-looking duplicate with another verdict, correctly signed, cannot undo the settled pass either.
    expect(await (await push(event(traceId, 'risky', 20002))).text()).toBe('success');
    expect(await me(a.token)).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
    expect(t.logs.slice(lines).filter((l) => l.includes('avatar review settled'))).toEqual([]);
    expect(t.logs.slice(lines).some((l) => l.includes('the avatar was settled before'))).toBe(true);
  });

  it('when a push names a trace_id no avatar carries, then it is taken, logged and changes nothing', async () => {
    const a = await t.login();
    await devPost('/dev/media-check/hold', { hold: true });
    const url = await upload(a.token, cleanImage());
    await set(a.token, { avatarUrl: url });
    const lines = t.logs.length;
    const res = await push(event('deadbeef-00000000-unknown', 'pass'));
    expect([res.status, await res.text()]).toEqual([200, 'success']);
    expect(t.logs.slice(lines).some((l) => l.includes('no avatar carries'))).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: null, avatarReview: 'PENDING' });
  });

  it('when a push is forged, unsigned, stale, replayed or not an event, then it is refused or ignored and the pending avatar stays pending', async () => {
    const { a, url, traceId } = await pendingUpload();
    const pass = event(traceId, 'pass');
    const lines = t.logs.length;

    expect((await push(pass, { token: 'notthetoken' })).status).toBe(403);
    const unsigned = await fetch(`${t.url}/wechat/push`, { method: 'POST', body: JSON.stringify(pass) });
    expect(unsigned.status).toBe(403);
    const stale = String(Math.floor(Date.now() / 1000) - 3600);
    expect((await push(pass, { timestamp: stale })).status).toBe(403);
    expect((await push('not an event')).status).toBe(400);
    expect(t.logs.slice(lines).filter((l) => l.includes('push refused: signature')).length).toBe(3);
    expect(t.logs.join('\n')).not.toContain(TOKEN);
    expect(await me(a.token)).toMatchObject({ avatarReview: 'PENDING', avatarUrl: null });

    // A genuine push's query (signature, timestamp, nonce) replayed with another body is taken but never handled.
    const nonce = randomBytes(6).toString('hex');
    const timestamp = String(Math.floor(Date.now() / 1000));
    expect(await (await push({ MsgType: 'event', Event: 'user_enter_tempsession' }, { nonce, timestamp })).text()).toBe(
      'success',
    );
    expect(await (await push(pass, { nonce, timestamp })).text()).toBe('success');
    expect(await me(a.token)).toMatchObject({ avatarReview: 'PENDING', avatarUrl: null });

    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarReview: 'PASSED', avatarUrl: url });
  });

  it('when the result is pushed before setProfile has recorded its trace_id, then setProfile settles it', async () => {
    const a = await t.login();
    const url = await upload(a.token, cleanImage());
    await devPost('/dev/media-check/early', { count: 1 });
    const res = await set(a.token, { avatarUrl: url });
    expect(res.errors).toBeUndefined();
    expect(res.data!.setProfile).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
    expect(await me(a.token)).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
  });

  it('when a result was kept but never settled (its settle failed), then setting the upload again settles it', async () => {
    const { a, url, traceId } = await pendingUpload();
    // What a push leaves behind when its result was stored and the settle after it failed.
    await t.server.orm.em
      .fork()
      .getConnection()
      .execute('insert into media_check_results (trace_id, suggest, label, received_at) values (?, ?, ?, ?)', [
        traceId,
        'pass',
        100,
        new Date(),
      ]);
    expect(await me(a.token)).toMatchObject({ avatarReview: 'PENDING' });
    const again = await set(a.token, { avatarUrl: url });
    expect(again.data!.setProfile).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
  });

  it('when an upload has had no result for an hour (lost on its way), then setting it again submits it anew, and only the new result counts', async () => {
    const { a, url, traceId: first } = await pendingUpload();
    // Within the hour, setting it again waits for the result: nothing new goes to WeChat.
    const calls = (await mediaChecks()).calls;
    expect((await set(a.token, { avatarUrl: url })).data!.setProfile.avatarReview).toBe('PENDING');
    expect((await mediaChecks()).calls).toBe(calls);

    // The hour passes with no result.
    await makeOverdue(first);
    const again = await set(a.token, { avatarUrl: url });
    expect(again.errors).toBeUndefined();
    expect(again.data!.setProfile).toMatchObject({ avatarUrl: null, avatarReview: 'PENDING' });
    const checks = (await mediaChecks()).checks.filter((c) => c.mediaUrl === url);
    expect(checks).toHaveLength(2);
    expect(checks[1].traceId).not.toBe(first);

    // The first submission's result, late after all, settles nothing: its trace_id is no longer the upload's.
    const late = await push(event(first, 'risky', 20002));
    expect([late.status, await late.text()]).toEqual([200, 'success']);
    expect(await me(a.token)).toMatchObject({ avatarUrl: null, avatarReview: 'PENDING' });
    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
  });

  it('when two setProfiles resubmit the same overdue upload at once, then one new trace_id is recorded and its result settles it', async () => {
    const { a, url, traceId: first } = await pendingUpload();
    const em = await makeOverdue(first);
    const both = await Promise.all([set(a.token, { avatarUrl: url }), set(a.token, { avatarUrl: url })]);
    expect(both.map((r) => r.errors)).toEqual([undefined, undefined]);
    // Each call may have gone to WeChat; the upload carries exactly one of the new trace_ids.
    const fresh = (await mediaChecks()).checks.filter((c) => c.mediaUrl === url && c.traceId !== first);
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    const id = url.slice(url.lastIndexOf('/') + 1).split('.')[0];
    const recorded = (await avatarRepository(em).find(id))!.traceId;
    expect(fresh.map((c) => c.traceId)).toContain(recorded);
    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
  });

  it('when an overdue upload’s result was kept but never settled, then setting it again settles it and submits nothing', async () => {
    const { a, url, traceId } = await pendingUpload();
    const em = await makeOverdue(traceId);
    await em
      .getConnection()
      .execute('insert into media_check_results (trace_id, suggest, label, received_at) values (?, ?, ?, ?)', [
        traceId,
        'pass',
        100,
        em.getPlatform().processDateProperty(new Date()) as Date,
      ]);
    const calls = (await mediaChecks()).calls;
    const again = await set(a.token, { avatarUrl: url });
    expect(again.data!.setProfile).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
    expect((await mediaChecks()).calls).toBe(calls);
  });

  it('when an upload is pending, passed or refused, then GET serves it uncached, cached for good, or not at all', async () => {
    const a = await t.login();
    await devPost('/dev/media-check/hold', { hold: true });
    const url = await upload(a.token, cleanImage());
    const bad = await upload(a.token, riskyImage());
    expect((await fetch(url)).headers.get('cache-control')).toBe('no-store');
    await set(a.token, { avatarUrl: url });
    expect((await fetch(url)).headers.get('cache-control')).toBe('no-store');
    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect((await fetch(url)).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await set(a.token, { avatarUrl: bad });
    expect(await settled(a.token)).toBe(true);
    expect((await fetch(bad)).status).toBe(404);
  });

  it('when a signed push names an event with no handler, even a name on Object.prototype, then it is taken and nothing runs', async () => {
    for (const name of ['user_enter_tempsession', 'toString', 'hasOwnProperty', '__proto__']) {
      const res = await push({ MsgType: 'event', Event: name });
      expect([name, res.status, await res.text()]).toEqual([name, 200, 'success']);
    }
  });

  it('when WeChat checks the push URL, then echostr comes back only for a good signature', async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = '1514711492';
    const ok = await fetch(
      `${t.url}/wechat/push?${new URLSearchParams({ signature: pushSignature(TOKEN, timestamp, nonce), timestamp, nonce, echostr: '6271805523514213380' })}`,
    );
    expect([ok.status, ok.headers.get('content-type'), await ok.text()]).toEqual([
      200,
      'text/plain; charset=utf-8',
      '6271805523514213380',
    ]);
    const bad = await fetch(
      `${t.url}/wechat/push?${new URLSearchParams({ signature: pushSignature('other', timestamp, nonce), timestamp, nonce, echostr: '1' })}`,
    );
    expect(bad.status).toBe(403);
    expect(await bad.text()).not.toContain('1');
  });

  it('when a newer avatar was submitted before an older one passes, then the older never replaces it', async () => {
    const a = await t.login();
    await devPost('/dev/media-check/hold', { hold: true });
    const older = await upload(a.token, cleanImage());
    const newer = await upload(a.token, cleanImage());
    await set(a.token, { avatarUrl: older });
    await set(a.token, { avatarUrl: newer });
    const checks = (await mediaChecks()).checks;
    const olderTrace = checks.find((c) => c.mediaUrl === older)!.traceId;
    expect(await (await push(event(olderTrace, 'pass'))).text()).toBe('success');
    expect(await me(a.token)).toMatchObject({ avatarUrl: null, avatarReview: 'PENDING' });
    await devPost('/dev/media-check/hold', { hold: false });
    expect(await settled(a.token)).toBe(true);
    expect(await me(a.token)).toMatchObject({ avatarUrl: newer, avatarReview: 'PASSED' });
  });
});

describe('the pushed result on two instances', () => {
  let database: TestDatabase;
  let one: TestServer;
  let two: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'avatar-review2-'));
    database = await freshDatabase();
    const env = { AVATAR_DIR: dir, REDIS_NAMESPACE: `${redisNamespace}.avatarreview2` };
    one = await startServer({ database, env });
    // The second instance's own simulator is unused: both take pushes, as two instances behind one push URL do.
    two = await startServer({ database, env: { ...env, PUBLIC_BASE_URL: one.url } });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when 20 copies of one result reach both instances at once, then the avatar is settled exactly once', async () => {
    const sim = `${one.url}${SIMULATOR_PREFIX}`;
    await simulatorDev(sim, '/dev/media-check/hold', { hold: true });
    const a = await one.login();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(cleanImage())], { type: 'image/png' }), 'a.png');
    const { url } = (await (
      await fetch(`${one.url}/avatar`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: form })
    ).json()) as { url: string };
    const set = await one.gql<{ setProfile: Shown }>(SET, { avatarUrl: url }, a.token);
    expect(set.data!.setProfile.avatarReview).toBe('PENDING');
    const { checks } = await simulatorDev<{ checks: Check[] }>(sim, '/dev/media-check');
    const traceId = checks.find((c) => c.mediaUrl === url)!.traceId;
    const body = JSON.stringify({
      MsgType: 'event',
      Event: 'wxa_media_check',
      appid: SIMULATOR_IDENTITY.appid,
      trace_id: traceId,
      version: 2,
      errcode: 0,
      errmsg: 'ok',
      result: { suggest: 'pass', label: '100' },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const nonce = `${i}${randomBytes(4).toString('hex')}`;
        const q = new URLSearchParams({ signature: pushSignature(TOKEN, timestamp, nonce), timestamp, nonce });
        const res = await fetch(`${(i % 2 ? two : one).url}/wechat/push?${q}`, { method: 'POST', body });
        return `${res.status} ${await res.text()}`;
      }),
    );
    expect(new Set(answers)).toEqual(new Set(['200 success']));
    const settledLines = [...one.logs, ...two.logs].filter((l) => l.includes('avatar review settled'));
    expect(settledLines).toHaveLength(1);
    // Sessions are per process without Redis: read it back where the user logged in.
    const me = await one.gql<{ me: Shown }>(ME, {}, a.token);
    expect(me.data!.me).toMatchObject({ avatarUrl: url, avatarReview: 'PASSED' });
    await simulatorDev(sim, '/dev/media-check/hold', { hold: false });
  });
});
