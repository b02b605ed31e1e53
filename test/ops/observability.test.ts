import { ME, UPDATE_PROFILE, startServer, type TestServer } from '../support/server';
import { createPayment, postNotify, requestPayment, signedNotify } from '../support/pay';

/** The fields of a log line these tests read. */
interface LogLine {
  msg?: string;
  reqId?: string;
  level?: number;
  path?: string;
  status?: number;
  graphql?: { operation: string; outcome: string; durationMs: unknown };
}
const parseLine = (line: string) => JSON.parse(line) as LogLine;

describe('logs and metrics over a full flow', () => {
  let t: TestServer;
  const secrets: string[] = [];

  beforeAll(async () => {
    // trace: the most talkative level, so the grep below has the most to look through.
    t = await startServer({ env: { LOG_LEVEL: 'trace' } });
    secrets.push(t.server.config.pay!.key, t.server.config.wechat.secret);

    const a = await t.login();
    secrets.push(a.token, (await t.server.services.sessions.load(a.token))!.sessionKey);
    await t.gql(ME, {}, a.token, { 'x-request-id': 'req-trace-me-1' });
    const sealed = await t.sim.userData({ openid: a.openid, profile: { nickName: '日志🐱' } });
    secrets.push(sealed.encryptedData, sealed.iv);
    await t.gql(UPDATE_PROFILE, sealed, a.token);
    const created = await createPayment(t, a.token, 1);
    secrets.push(created.payParams.paySign);
    const paid = await requestPayment(t, created.payParams);
    expect(paid.body.deliveries?.[0].returnCode).toBe('SUCCESS');
    // A replayed notify, to have its sign in hand.
    const replay = signedNotify(t, {
      out_trade_no: created.order.outTradeNo,
      total_fee: '1',
      transaction_id: paid.body.transactionId!,
    });
    secrets.push(/<sign>(\w+)<\/sign>/.exec(replay)![1]);
    await postNotify(t, replay);
    await t.gql(`{ me { id } }`, {}, 'A'.repeat(43));
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the captured logs are searched for every secret the flow used, then none is found', () => {
    expect(secrets).toHaveLength(8);
    expect(t.logs.length).toBeGreaterThan(20);
    for (const secret of secrets) {
      const hits = t.logs.filter((line) => line.includes(secret));
      expect({ secret: secret.slice(0, 6) + '…', hits }).toEqual({ secret: secret.slice(0, 6) + '…', hits: [] });
    }
  });

  it('when an operation ran, then exactly one line names it with its duration and outcome, under the request id', () => {
    const ops = t.logs.map(parseLine).filter((l) => l.msg === 'graphql operation');
    expect(ops.map((l) => `${l.graphql?.operation}:${l.graphql?.outcome}`)).toEqual(
      expect.arrayContaining(['login:ok', 'me:ok', 'updateProfile:ok', 'createPayment:ok', 'me:UNAUTHENTICATED']),
    );
    for (const l of ops) expect(typeof l.graphql?.durationMs).toBe('number');
    const me = ops.filter((l) => l.reqId === 'req-trace-me-1');
    expect(me).toHaveLength(1);
    expect(me[0].graphql?.operation).toBe('me');
  });

  it('when requests are answered, then each access line has the level its route declares', async () => {
    await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'access-healthz' } });
    await fetch(`${t.url}/no-such-route`, { headers: { 'x-request-id': 'access-404' } });
    // Not `me`: the metrics test below counts the flow's own operations exactly.
    await t.gql(`{ __typename }`, {}, undefined, { 'x-request-id': 'access-graphql' });
    await fetch(`${t.url}/notify`, {
      method: 'POST',
      body: '<xml></xml>',
      headers: { 'x-request-id': 'access-notify' },
    });
    const access = (reqId: string) =>
      t.logs
        .map(parseLine)
        .filter((l) => l.msg === 'request' && l.reqId === reqId)
        .map((l) => `${l.level}:${l.path}:${l.status}`);
    // pino's levels: 20 debug, 30 info. GraphQL operations and notifies write a richer line of their own.
    expect(access('access-healthz')).toEqual(['30:/healthz:200']);
    expect(access('access-404')).toEqual(['30:/no-such-route:404']);
    expect(access('access-graphql')).toEqual(['20:/graphql:200']);
    expect(access('access-notify')).toEqual([expect.stringMatching(/^20:\/notify:/)]);
  });

  it('when a request is answered, then the response carries its request id', async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const generated = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces\n' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when /metrics is scraped, then operations, WeChat calls, notifies and transitions are counted', async () => {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/graphql_operations_total\{operation="login",outcome="ok"\} 1/);
    expect(text).toMatch(/graphql_operations_total\{operation="me",outcome="UNAUTHENTICATED"\} 1/);
    expect(text).toMatch(/graphql_operation_duration_seconds_count\{operation="updateProfile"\} 1/);
    expect(text).toMatch(/wechat_calls_total\{api="jscode2session",outcome="ok"\} 1/);
    expect(text).toMatch(/wechat_calls_total\{api="unifiedorder",outcome="ok"\} 1/);
    expect(text).toMatch(/pay_notifies_total\{verdict="PAID"\} 1/);
    expect(text).toMatch(/pay_notifies_total\{verdict="DUPLICATE"\} 1/);
    expect(text).toMatch(/order_transitions_total\{to="PAID",via="notify"\} 1/);
  });

  it('when probed, then /healthz and /readyz answer 200 with the database and store up', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', database: 'ok', store: 'ok' });
  });
});
