import { LOGIN, ME, type TestServer } from '../support/server';
import { CREATE_PAYMENT } from '../support/pay';
import { describeServices } from '../support/target';
import { eventually, timed } from '../support/eventually';
import { expectRecovered, expectUnavailable, readyz, serverBehindRedisProxy } from '../support/redis-fault';

// Generous on purpose (CI is loaded): each faulted call must answer before the store's deadline plus the margin.
const CACHE_TIMEOUT_MS = 1500;
const WITHIN_MS = CACHE_TIMEOUT_MS + 3000;

const login = (t: TestServer, code: string) => timed(() => t.gql(LOGIN, { code }));
const me = (t: TestServer, token: string) => timed(() => t.gql(ME, {}, token));

describeServices('when the connection to Redis is dropped with commands on the wire, and Redis then hangs on the new one', () => {
  let s: Awaited<ReturnType<typeof serverBehindRedisProxy>>;
  beforeAll(async () => {
    s = await serverBehindRedisProxy(CACHE_TIMEOUT_MS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then every call answers SERVICE_UNAVAILABLE within CACHE_TIMEOUT_MS, none of them runs once Redis answers again, and the same server serves again', async () => {
    const { proxy, direct, t } = s;
    const a = await t.login();
    const b = await t.login();
    const codes = [(await t.sim.loginCode()).code, (await t.sim.loginCode()).code];
    const before = await direct.snapshot();

    proxy.freeze();
    const onTheWire = Promise.all([login(t, codes[0]), me(t, a.token)]);
    expect(await eventually(async () => proxy.heldBytes > 0, 10000)).toBe(true);
    proxy.drop();
    for (const call of await onTheWire) expectUnavailable(call, WITHIN_MS);

    // The client reconnects into the same frozen hop: what is asked now must be refused, not queued for later.
    const [again, meB, pay, ready] = await Promise.all([
      login(t, codes[1]),
      me(t, b.token),
      timed(() => t.gql(CREATE_PAYMENT, { money: 1 }, a.token)),
      timed(() => readyz(t)),
    ]);
    for (const call of [again, meB, pay]) expectUnavailable(call, WITHIN_MS);
    expect(ready.result.status).toBe(503);
    expect(ready.ms).toBeLessThan(WITHIN_MS);
    await eventually(async () => proxy.heldBytes === 0, 3000);

    proxy.thaw();
    expect(await eventually(async () => (await readyz(t)).status === 200, 15000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await direct.snapshot()).toEqual(before);

    await expectRecovered(t, [a, b]);
  });
});

describeServices('when Redis refuses connections', () => {
  // Long, so that a call held for the deadline stands out from one refused at once.
  const LONG_TIMEOUT_MS = 15000;
  let s: Awaited<ReturnType<typeof serverBehindRedisProxy>>;
  beforeAll(async () => {
    s = await serverBehindRedisProxy(LONG_TIMEOUT_MS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('then calls are refused with SERVICE_UNAVAILABLE at once rather than held for CACHE_TIMEOUT_MS, none of them runs when Redis is back, and the same server serves again', async () => {
    const { proxy, direct, t } = s;
    const a = await t.login();
    const { code } = await t.sim.loginCode();
    const before = await direct.snapshot();

    await proxy.cut();
    const calls = await Promise.all([login(t, code), me(t, a.token), timed(() => t.gql(CREATE_PAYMENT, { money: 1 }, a.token))]);
    // Half the deadline: a client that queued them while offline would hold them for all of it.
    for (const call of calls) expectUnavailable(call, LONG_TIMEOUT_MS / 2);
    expect((await readyz(t)).status).toBe(503);

    await proxy.restore();
    expect(await eventually(async () => (await readyz(t)).status === 200, 15000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await direct.snapshot()).toEqual(before);

    await expectRecovered(t, [a]);
  }, 60000);
});
