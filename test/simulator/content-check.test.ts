import Fastify from 'fastify';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { registerContentRoutes, RISKY_WORDS, VISIT_WINDOW_MS } from '../../src/simulator/content.routes';
import { SimulatorState } from '../../src/simulator/state';
import { StableTokens } from '../../src/simulator/token.routes';
import { markServicesSuite } from '../support/server';
import { onServices } from '../support/target';

type Simulator = Awaited<ReturnType<typeof startStandaloneSimulator>>;
let sim: Simulator;

beforeAll(async () => {
  sim = await startStandaloneSimulator();
  // It needs no database or Redis, but .ci/run checks that every suite ran on the services project.
  if (onServices) markServicesSuite();
});
afterAll(() => sim.close());

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${sim.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const token = async () =>
  (
    await post('/cgi-bin/stable_token', {
      grant_type: 'client_credential',
      appid: SIMULATOR_IDENTITY.appid,
      secret: SIMULATOR_IDENTITY.secret,
    })
  ).body.access_token as string;
const check = (accessToken: string | undefined, body: unknown) =>
  post(
    `/wxa/msg_sec_check${accessToken === undefined ? '' : `?access_token=${encodeURIComponent(accessToken)}`}`,
    body,
  );
/** wx.login and jscode2session, as a server does it: the openid has now used the mini-program. */
const loggedIn = async () => {
  const { code, openid } = await sim.loginCode();
  const q = new URLSearchParams({
    appid: SIMULATOR_IDENTITY.appid,
    secret: SIMULATOR_IDENTITY.secret,
    js_code: code,
    grant_type: 'authorization_code',
  });
  await fetch(`${sim.base}/sns/jscode2session?${q}`);
  return openid;
};
const calls = async () => ((await (await fetch(`${sim.base}/dev/msg-sec-check`)).json()) as { calls: number }).calls;

describe('the simulated msg_sec_check', () => {
  it('when clean text is checked (version 2), then pass with label 100, a trace_id and a detail list, as WeChat answers', async () => {
    const openid = await loggedIn();
    const res = await check(await token(), { content: '小明🐱', version: 2, scene: 1, openid });
    expect(res.body).toMatchObject({ errcode: 0, errmsg: 'ok', result: { suggest: 'pass', label: 100 } });
    expect(res.body.trace_id).toEqual(expect.any(String));
    expect(res.body.detail).toEqual([
      expect.objectContaining({ strategy: 'content_model', suggest: 'pass', label: 100 }),
    ]);
  });

  it.each(RISKY_WORDS.map((w) => [w.word, w.suggest, w.label] as const))(
    'when the text holds %s, then %s with label %d, and the keyword in detail',
    async (word, suggest, label) => {
      const openid = await loggedIn();
      const res = await check(await token(), { content: `x${word.toUpperCase()}y`, version: 2, scene: 1, openid });
      expect(res.body).toMatchObject({ errcode: 0, result: { suggest, label } });
      expect(res.body.detail).toContainEqual(expect.objectContaining({ strategy: 'keyword', keyword: word, label }));
    },
  );

  it('when the content arrives as \\uXXXX escapes, then it passes whatever it says, as at WeChat; raw UTF-8 is judged', async () => {
    const openid = await loggedIn();
    const t = await token();
    const raw = JSON.stringify({ content: '我爱赌博', version: 2, scene: 1, openid });
    const escaped = raw.replace(/[^ -~]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(escaped).not.toContain('赌博');
    const send = async (body: string) =>
      (await (
        await fetch(`${sim.base}/wxa/msg_sec_check?access_token=${t}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
      ).json()) as Record<string, unknown>;
    expect(await send(raw)).toMatchObject({ errcode: 0, result: { suggest: 'risky', label: 20006 } });
    expect(await send(escaped)).toMatchObject({ errcode: 0, result: { suggest: 'pass', label: 100 } });
    expect(await send('{"content": ')).toMatchObject({ errcode: 47001 });
    expect(await send('"just a string"')).toMatchObject({ errcode: 47001 });
  });

  it('when version 1 is asked (no openid), then 87014 for risky text and a bare ok otherwise', async () => {
    const t = await token();
    expect((await check(t, { content: '我爱赌博' })).body).toMatchObject({ errcode: 87014 });
    expect((await check(t, { content: 'hello', version: 1 })).body).toEqual({ errcode: 0, errmsg: 'ok' });
  });

  it('when the token is missing, unknown or expired, then 41001, 40001, 42001', async () => {
    const openid = await loggedIn();
    const body = { content: 'hello', version: 2, scene: 1, openid };
    expect((await check(undefined, body)).body).toMatchObject({ errcode: 41001 });
    expect((await check('not-a-token', body)).body).toMatchObject({ errcode: 40001 });
    const good = await token();
    await post('/dev/stable-token/expire', {});
    expect((await check(good, body)).body).toMatchObject({ errcode: 42001 });
  });

  it('when the openid never logged in, the body is malformed or the method is GET, then 40003, 47001, 43002', async () => {
    const t = await token();
    const openid = await loggedIn();
    expect((await check(t, { content: 'hello', version: 2, scene: 1, openid: 'oNeverSeen' })).body).toMatchObject({
      errcode: 40003,
    });
    for (const body of [
      { version: 2, scene: 1, openid },
      { content: '', version: 2, scene: 1, openid },
      { content: 'x'.repeat(2501), version: 2, scene: 1, openid },
      { content: 'hello', version: 2, scene: 5, openid },
      { content: 'hello', version: 3, scene: 1, openid },
    ]) {
      expect((await check(t, body)).body).toMatchObject({ errcode: 47001 });
    }
    expect(await (await fetch(`${sim.base}/wxa/msg_sec_check`)).json()).toMatchObject({ errcode: 43002 });
  });

  it('when faults are queued, then the next calls play them in turn, and every call is counted', async () => {
    const openid = await loggedIn();
    const t = await token();
    const before = await calls();
    expect((await post('/dev/msg-sec-check/fault', { errcode: -1, count: 2 })).body).toEqual({ faultsQueued: 2 });
    expect((await post('/dev/msg-sec-check/fault', { count: 0 })).status).toBe(400);
    const body = { content: 'hello', version: 2, scene: 1, openid };
    expect((await check(t, body)).body).toMatchObject({ errcode: -1 });
    expect((await check(t, body)).body).toMatchObject({ errcode: -1 });
    expect((await check(t, body)).body).toMatchObject({ errcode: 0 });
    expect(await calls()).toBe(before + 3);
  });
});

describe('the simulated msg_sec_check and the 2-hour visit window', () => {
  it('when the openid last logged in more than 2 hours ago, then 61010 until it logs in again', async () => {
    let now = 1_700_000_000_000;
    const clock = () => now;
    const state = new SimulatorState(clock);
    const tokens = new StableTokens(clock);
    const app = Fastify();
    registerContentRoutes(app, { tokens, state });
    await app.ready();
    try {
      const { code, openid } = state.mintCode();
      expect(state.redeem(code).ok).toBe(true);
      // A token lives 2 hours too: each call takes the current one, as a server would.
      const ask = async () => {
        const stable = tokens.stable(false);
        if (!('accessToken' in stable)) throw new Error('no token');
        const url = `/wxa/msg_sec_check?access_token=${stable.accessToken}`;
        return (
          await app.inject({ method: 'POST', url, payload: { content: 'hi', version: 2, scene: 1, openid } })
        ).json<{ errcode: number }>();
      };
      now += VISIT_WINDOW_MS;
      expect(await ask()).toMatchObject({ errcode: 0 });
      now += 1;
      expect(await ask()).toMatchObject({ errcode: 61010 });
      expect(state.redeem(state.mintCode(openid).code).ok).toBe(true);
      expect(await ask()).toMatchObject({ errcode: 0 });
    } finally {
      await app.close();
    }
  });
});
