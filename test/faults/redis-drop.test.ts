import { LOGIN, ME, type TestServer } from '../support/server';
import { CREATE_PAYMENT } from '../support/pay';
import { describeServices } from '../support/target';
import { eventually, timed } from '../support/eventually';
import { expectRecovered, expectUnavailable, readyz, serverBehindRedisProxy } from '../support/redis-fault';

// Long, so that a call held for the deadline stands out from one answered at once.
const LONG_TIMEOUT_MS = 15000;
// Half the deadline: a client that queued calls while offline would hold them for all of it.
const AT_ONCE_MS = LONG_TIMEOUT_MS / 2;

const login = (t: TestServer, code: string) => timed(() => t.gql(LOGIN, { code }));
const me = (t: TestServer, token: string) => timed(() => t.gql(ME, {}, token));

describeServices(
  'when the connection to Redis is dropped with commands on the wire, and Redis then hangs on the new one',
  () => {
    let s: Awaited<ReturnType<typeof serverBehindRedisProxy>>;
    beforeAll(async () => {
      s = await serverBehindRedisProxy(LONG_TIMEOUT_MS);
    });
    afterAll(async () => {
      await s?.close();
    });

    it('then the calls on the wire and those asked while it reconnects answer SERVICE_UNAVAILABLE at once, none of them runs once Redis answers again, and the same server serves again', async () => {
      const { proxy, direct, t } = s;
      const a = await t.login();
      const b = await t.login();
      const codes = [(await t.sim.loginCode()).code, (await t.sim.loginCode()).code];
      const before = await direct.snapshot();

      proxy.freeze();
      const onTheWire = Promise.all([login(t, codes[0]), me(t, a.token)]);
      expect(await eventually(async () => proxy.heldBytes > 0, 10000)).toBe(true);
      proxy.drop();
      const dropped = await onTheWire;

      // The client reconnects into the same frozen hop: what is asked now must be refused, not queued for later.
      const reconnecting = await Promise.all([
        login(t, codes[1]),
        me(t, b.token),
        timed(() => t.gql(CREATE_PAYMENT, { money: 1 }, a.token)),
      ]);
      const ready = await timed(() => readyz(t));

      proxy.thaw();
      expect(await eventually(async () => (await readyz(t)).status === 200, 15000)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      // First what matters most: a queued increment replayed now would show here.
      expect(await direct.snapshot()).toEqual(before);
      for (const call of [...dropped, ...reconnecting]) expectUnavailable(call, AT_ONCE_MS);
      expect(ready.result.status).toBe(503);
      expect(ready.ms).toBeLessThan(AT_ONCE_MS);

      await expectRecovered(t, [a, b]);
    }, 60000);
  },
);

describeServices('when Redis refuses connections', () => {
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
    const calls = await Promise.all([
      login(t, code),
      me(t, a.token),
      timed(() => t.gql(CREATE_PAYMENT, { money: 1 }, a.token)),
    ]);
    for (const call of calls) expectUnavailable(call, AT_ONCE_MS);
    expect((await readyz(t)).status).toBe(503);

    await proxy.restore();
    expect(await eventually(async () => (await readyz(t)).status === 200, 15000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await direct.snapshot()).toEqual(before);

    await expectRecovered(t, [a]);
  }, 60000);
});
