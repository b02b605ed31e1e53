import { randomBytes } from 'node:crypto';
import { LOGIN, ME, markServicesSuite } from '../support/server';
import { spawnServer, type ServerProcess } from '../support/process-server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { freshDatabase, target, type TestDatabase } from '../support/target';
import { CREATE_PAYMENT } from '../support/pay';

type Gql<T> = { data?: T; errors?: { extensions?: { code?: string } }[] };

async function gql<T = Record<string, unknown>>(
  base: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Gql<T>> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Gql<T>;
}

/** Where the two processes keep sessions, limits and locks: the env that points a server at it. */
export interface SharedStore {
  start(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * Two separate server processes on one MariaDB and one shared store (one Redis, or a Redis Cluster): tokens, logout,
 * the login limit and notify settlement must hold across them.
 */
export function describeScaleOut(title: string, describeFn: jest.Describe, store: SharedStore) {
  describeFn(title, () => {
    let db: TestDatabase;
    let sim: Awaited<ReturnType<typeof startStandaloneSimulator>>;
    let a: ServerProcess;
    let b: ServerProcess;

    beforeAll(async () => {
      if (target.kind !== 'services') return;
      db = await freshDatabase();
      sim = await startStandaloneSimulator();
      const env = {
        ...sim.env(),
        ...(await store.start()),
        DATABASE_URL: db.url,
        TRUST_PROXY: '1',
        LOGIN_RATE_PER_IP: '3',
        PAY_RATE_PER_USER: '3',
        LOGIN_RATE_PER_OPENID: '1000',
      };
      a = await spawnServer(env);
      // The second instance must not race the first one's migrations.
      b = await spawnServer({ ...env, MIGRATE_ON_START: '0' });
      markServicesSuite();
    });
    afterAll(async () => {
      a?.kill();
      b?.kill();
      await Promise.all([a?.exited, b?.exited]);
      await sim?.close();
      await db?.drop();
      await store.stop();
    });

    const login = async (base: string, ip: string, openid?: string) => {
      const { code, openid: id } = await sim.loginCode(openid ? { openid } : {});
      return {
        openid: id,
        res: await gql<{ login: { token: string } }>(base, LOGIN, { code }, { 'x-forwarded-for': ip }),
      };
    };

    it('when one process issued a token, then the other accepts it, and logout on one revokes it on both', async () => {
      const ip = `10.9.${randomBytes(2).join('.')}`;
      const { openid, res } = await login(a.url, ip);
      const token = res.data!.login.token;
      const me = await gql<{ me: { openid: string } }>(b.url, ME, {}, { authorization: `Bearer ${token}` });
      expect(me.data?.me.openid).toBe(openid);
      expect((await gql(b.url, 'mutation { logout }', {}, { authorization: `Bearer ${token}` })).data).toEqual({
        logout: true,
      });
      expect((await gql(a.url, ME, {}, { authorization: `Bearer ${token}` })).errors?.[0].extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
    });

    it('when codes WeChat refuses come from one IP, alternating between the processes, then the limit counts them together', async () => {
      const ip = `10.8.${randomBytes(2).join('.')}`;
      // The per-IP limit counts refused codes only: a valid login in between changes nothing.
      const bogus = (base: string) =>
        gql(base, LOGIN, { code: `bogus${randomBytes(8).toString('hex')}` }, { 'x-forwarded-for': ip });
      expect((await bogus(a.url)).errors?.[0].extensions?.code).toBe('WECHAT_CODE_INVALID');
      expect((await login(b.url, ip)).res.errors).toBeUndefined();
      expect((await bogus(b.url)).errors?.[0].extensions?.code).toBe('WECHAT_CODE_INVALID');
      expect((await bogus(a.url)).errors?.[0].extensions?.code).toBe('WECHAT_CODE_INVALID');
      expect((await bogus(b.url)).errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    });

    it('when one user creates payments alternating between the processes, then the payment limit counts them together', async () => {
      const { res } = await login(a.url, `10.6.${randomBytes(2).join('.')}`);
      const auth = { authorization: `Bearer ${res.data!.login.token}` };
      const pay = (base: string) => gql(base, CREATE_PAYMENT, { money: 1 }, auth);
      for (const base of [a.url, b.url, a.url]) expect((await pay(base)).errors).toBeUndefined();
      expect((await pay(b.url)).errors?.[0].extensions?.code).toBe('RATE_LIMITED');
      expect((await pay(a.url)).errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    });

    it('when 50 copies of one notify are spread over both processes, then exactly one transition happens and all are answered SUCCESS', async () => {
      const { res } = await login(a.url, `10.7.${randomBytes(2).join('.')}`);
      const token = res.data!.login.token;
      const created = await gql<{
        createPayment: { order: { outTradeNo: string }; payParams: Record<string, string> };
      }>(a.url, CREATE_PAYMENT, { money: 88 }, { authorization: `Bearer ${token}` });
      const { order, payParams } = created.data!.createPayment;
      const pay = await fetch(`${sim.base}/dev/request-payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          appId: sim.env().WECHAT_APPID,
          ...payParams,
          duplicates: 50,
          notifyUrls: [`${a.url}/notify`, `${b.url}/notify`],
        }),
      });
      const paid = (await pay.json()) as {
        errMsg: string;
        transactionId: string;
        deliveries: { returnCode: string }[];
      };
      expect(paid.errMsg).toBe('requestPayment:ok');
      expect(paid.deliveries).toHaveLength(50);
      expect(paid.deliveries.every((d) => d.returnCode === 'SUCCESS')).toBe(true);

      const { createConnection } = await import('mysql2/promise');
      const conn = await createConnection(db.url);
      try {
        const [verdicts] = await conn.query(
          'select verdict, count(*) as n from payment_notifications where out_trade_no = ? group by verdict',
          [order.outTradeNo],
        );
        expect(
          Object.fromEntries((verdicts as { verdict: string; n: number }[]).map((r) => [r.verdict, Number(r.n)])),
        ).toEqual({ PAID: 1, DUPLICATE: 49 });
        const [rows] = await conn.query('select status, transaction_id from orders where out_trade_no = ?', [
          order.outTradeNo,
        ]);
        expect((rows as object[])[0]).toEqual({ status: 'PAID', transaction_id: paid.transactionId });
      } finally {
        await conn.end();
      }
      const view = await gql<{ order: unknown }>(
        b.url,
        `query($n: String!) { order(outTradeNo: $n) { status transactionId } }`,
        { n: order.outTradeNo },
        { authorization: `Bearer ${token}` },
      );
      expect(view.data?.order).toEqual({ status: 'PAID', transactionId: paid.transactionId });
    });
  });
}
