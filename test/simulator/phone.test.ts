import { startStandaloneSimulator } from '../support/standalone-simulator';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
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
const exchange = (accessToken: string | undefined, body: unknown) =>
  post(
    `/wxa/business/getuserphonenumber${accessToken === undefined ? '' : `?access_token=${encodeURIComponent(accessToken)}`}`,
    body,
  );

describe('the simulated getuserphonenumber', () => {
  it('when a minted code is exchanged with a good token, then phone_info as WeChat writes it, once', async () => {
    const minted = await post('/dev/phone-code', { openid: 'oPhoneSim', purePhoneNumber: '13800138000' });
    expect(minted).toMatchObject({
      status: 200,
      body: { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' },
    });
    const code = minted.body.code as string;
    const ok = await exchange(await token(), { code, openid: 'oPhoneSim' });
    expect(ok.body).toMatchObject({
      errcode: 0,
      phone_info: {
        phoneNumber: '13800138000',
        purePhoneNumber: '13800138000',
        countryCode: 86,
        watermark: { appid: SIMULATOR_IDENTITY.appid },
      },
    });
    expect(typeof (ok.body.phone_info as { watermark: { timestamp: unknown } }).watermark.timestamp).toBe('number');
    expect((await exchange(await token(), { code })).body).toMatchObject({ errcode: 40029 });
  });

  it('when the token is missing, unknown or expired, then 41001, 40001, 42001, and the code is not spent', async () => {
    const { code } = (
      await post('/dev/phone-code', { openid: 'oPhoneSim2', purePhoneNumber: '2025550123', countryCode: 1 })
    ).body as { code: string };
    expect((await exchange(undefined, { code })).body).toMatchObject({ errcode: 41001 });
    expect((await exchange('not-a-token', { code })).body).toMatchObject({ errcode: 40001 });
    const old = await token();
    await post('/dev/stable-token/expire', {});
    expect((await exchange(old, { code })).body).toMatchObject({ errcode: 42001 });
    expect((await exchange(await token(), { code })).body).toMatchObject({
      errcode: 0,
      phone_info: { phoneNumber: '+1 2025550123', purePhoneNumber: '2025550123', countryCode: '1' },
    });
  });

  it('when the code is unknown, expired, or named with another openid, then 40029', async () => {
    const t = await token();
    expect((await exchange(t, { code: 'nope' })).body).toMatchObject({ errcode: 40029 });
    expect((await exchange(t, {})).body).toMatchObject({ errcode: 40029 });
    const expired = (await post('/dev/phone-code', { openid: 'oPhoneSim3', ttlMs: 0 })).body.code;
    expect((await exchange(t, { code: expired })).body).toMatchObject({ errcode: 40029 });
    const theirs = (await post('/dev/phone-code', { openid: 'oPhoneSim3' })).body.code;
    expect((await exchange(t, { code: theirs, openid: 'oSomeoneElse' })).body).toMatchObject({ errcode: 40029 });
    // A refusal for the wrong openid does not spend it for its owner.
    expect((await exchange(t, { code: theirs, openid: 'oPhoneSim3' })).body).toMatchObject({ errcode: 0 });
  });

  it('when it is called with GET, then 43002', async () => {
    const res = await fetch(`${sim.base}/wxa/business/getuserphonenumber`);
    expect(((await res.json()) as { errcode: number }).errcode).toBe(43002);
  });

  it.each([
    [{}, /openid/],
    [{ openid: 'o1', purePhoneNumber: '13x' }, /purePhoneNumber/],
    [{ openid: 'o1', purePhoneNumber: 13800138000 }, /purePhoneNumber/],
    [{ openid: 'o1', countryCode: '+86' }, /countryCode/],
    [{ openid: 'o1', countryCode: { cc: 1 } }, /countryCode/],
    [{ openid: 'o1', ttlMs: 5 * 60 * 1000 + 1 }, /ttlMs/],
    [{ openid: 'o1', ttlMs: -1 }, /ttlMs/],
  ])('when /dev/phone-code gets %j, then 400 naming the field', async (body, field) => {
    const res = await post('/dev/phone-code', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(field);
  });
});
