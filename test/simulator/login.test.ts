import type { FastifyInstance } from 'fastify';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { MAX_BULK_CODES } from '../../src/simulator/login.routes';
import { markServicesSuite } from '../support/server';
import { listenSimulator } from '../support/simulator-app';
import { onServices } from '../support/target';

// The simulator keeps its state in memory: it runs alike on both projects,
// and is marked as run on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

/** The simulator's bulk wx.login endpoint (used by `npm run bench`), over real HTTP. */
let sim: FastifyInstance;
let base: string;

beforeAll(async () => {
  ({ app: sim, url: base } = await listenSimulator());
});

afterAll(async () => {
  await sim.close();
});

async function loginCodes(body: unknown) {
  const res = await fetch(`${base}/dev/login-codes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { codes?: { code: string; openid: string }[]; error?: string },
  };
}

async function exchange(code: string) {
  const query = new URLSearchParams({
    appid: SIMULATOR_IDENTITY.appid,
    secret: SIMULATOR_IDENTITY.secret,
    js_code: code,
    grant_type: 'authorization_code',
  });
  const res = await fetch(`${base}/sns/jscode2session?${query}`);
  return JSON.parse(await res.text()) as { openid?: string; session_key?: string; errcode?: number };
}

describe('POST /dev/login-codes', () => {
  it('mints distinct single-use codes, each for a new user', async () => {
    const { status, body } = await loginCodes({ count: 5 });
    expect(status).toBe(200);
    const codes = body.codes!;
    expect(codes).toHaveLength(5);
    expect(new Set(codes.map((c) => c.code)).size).toBe(5);
    expect(new Set(codes.map((c) => c.openid)).size).toBe(5);
    for (const { code, openid } of codes) {
      const first = await exchange(code);
      expect(first.openid).toBe(openid);
      expect(first.session_key).toEqual(expect.any(String));
      expect((await exchange(code)).errcode).toBe(40163);
    }
  });

  it('mints every code for one openid when given, rotating its session_key at each exchange', async () => {
    const { body } = await loginCodes({ count: 3, openid: 'obulkuser000000000000000000' });
    const codes = body.codes!;
    expect(codes.map((c) => c.openid)).toEqual(Array(3).fill('obulkuser000000000000000000'));
    const answers = [];
    for (const { code } of codes) answers.push(await exchange(code));
    expect(answers.every((a) => a.openid === 'obulkuser000000000000000000')).toBe(true);
    expect(new Set(answers.map((a) => a.session_key)).size).toBe(3);
  });

  it('refuses a missing, fractional, zero or too large count, and a bad openid', async () => {
    for (const body of [
      {},
      { count: 1.5 },
      { count: 0 },
      { count: '3' },
      { count: MAX_BULK_CODES + 1 },
      { count: 1, openid: '' },
      { count: 1, openid: 7 },
    ]) {
      const res = await loginCodes(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual(expect.any(String));
    }
  });

  it('mints the maximum in one call', async () => {
    const { status, body } = await loginCodes({ count: MAX_BULK_CODES });
    expect(status).toBe(200);
    expect(new Set(body.codes!.map((c) => c.code)).size).toBe(MAX_BULK_CODES);
  });
});
