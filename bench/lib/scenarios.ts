import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { payXmlLib, paySignLib, SIMULATOR_IDENTITY } from './dist.ts';
import type { OutgoingRequest } from './load.ts';

export const SCENARIOS = ['me', 'login', 'updateProfile', 'createPayment', 'notify'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The server's GraphQL documents; the baseline gets the very same request bodies and switches on operationName. */
export const GQL = {
  Me: 'query Me { me { id openid nickname avatarUrl gender } }',
  Login: 'mutation Login($code: String!) { login(code: $code) { token expiresAt user { id openid } } }',
  UpdateProfile:
    'mutation UpdateProfile($iv: String!, $encryptedData: String!) { updateProfile(iv: $iv, encryptedData: $encryptedData) { id nickname gender city } }',
  CreatePayment:
    'mutation CreatePayment($money: Int!) { createPayment(money: $money) { order { id outTradeNo amount status } payParams { timeStamp nonceStr package signType paySign } } }',
} as const;

export function gqlBody(operationName: keyof typeof GQL, variables?: Record<string, unknown>): string {
  return JSON.stringify({ operationName, query: GQL[operationName], ...(variables ? { variables } : {}) });
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/** A logged-in user of one target, made during setup. */
export interface PoolUser {
  token: string;
  openid: string;
  userId: number;
}

/** What a scenario needs of the target it runs against. */
export interface Target {
  name: 'server' | 'baseline';
  url: string;
  /** Connection to this target's own database, for seeding (notify orders) and checking the work was done. */
  db: Connection;
  users: PoolUser[];
  /** Two profiles per user, sealed with the session_key the target holds for that user (updateProfile). */
  sealed: { iv: string; encryptedData: string }[][];
  /** Requests already sent per scenario, so inputs keep rotating across warm-up, rounds and runs. */
  sequence: Record<ScenarioName, number>;
}

/** The inputs of one run: request i, and afterwards whether the database shows the work was done. */
export interface Batch {
  next: (i: number) => OutgoingRequest;
  /**
   * A description of what is wrong, or undefined when the database agrees with the answers. `cut` requests were sent
   * but their answers never read (a timed run ends with requests in flight): the target may have done their work too.
   */
  verify(r: { succeeded: number; sent: number; cut: number }): Promise<string | undefined>;
}

export interface Scenario {
  name: ScenarioName;
  /** Every request consumes an input made for it alone (a login code, a PENDING order): runs send an exact amount. */
  distinct: boolean;
  /** True when a 2xx body shows the operation succeeded. */
  ok: (body: string) => boolean;
  prepare(t: Target, count: number): Promise<Batch>;
}

export interface SimulatorClient {
  base: string;
  loginCodes(count: number): Promise<{ code: string; openid: string }[]>;
  userData(openid: string, profile: Record<string, unknown>): Promise<{ iv: string; encryptedData: string }>;
}

export function simulatorClient(base: string): SimulatorClient {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`simulator ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  };
  return {
    base,
    async loginCodes(count) {
      const out: { code: string; openid: string }[] = [];
      while (out.length < count) {
        const n = Math.min(10_000, count - out.length);
        const { codes } = (await post('/dev/login-codes', { count: n })) as {
          codes: { code: string; openid: string }[];
        };
        out.push(...codes);
      }
      return out;
    },
    userData: async (openid, profile) =>
      (await post('/dev/user-data', { openid, profile })) as { iv: string; encryptedData: string },
  };
}

const gqlOk = (marker: string) => (body: string) => !body.includes('"errors"') && body.includes(marker);

async function scalar(db: Connection, sql: string, params: unknown[] = []): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>(sql, params);
  return Number(Object.values(rows[0])[0]);
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pooled<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** One login through the target's own API (setup only). */
export async function loginThrough(url: string, code: string): Promise<PoolUser> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: gqlBody('Login', { code }),
  });
  const text = await res.text();
  const body = JSON.parse(text) as { data?: { login?: { token: string; user: { id: string; openid: string } } } };
  const login = body.data?.login;
  if (res.status !== 200 || !login) throw new Error(`setup login failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { token: login.token, openid: login.user.openid, userId: Number(login.user.id) };
}

/** The two profiles a user alternates between, so every updateProfile really changes the row. */
export function benchProfile(u: number, variant: number): Record<string, unknown> {
  return {
    nickName: `测试🐱👍 ${u}${variant ? 'b' : 'a'}`,
    gender: variant ? 2 : 1,
    language: 'zh_CN',
    city: variant ? 'Shenzhen' : 'Guangzhou',
    province: 'Guangdong',
    country: 'China',
    avatarUrl: `https://thirdwx.qlogo.cn/mmopen/vi_32/bench${u}/132`,
  };
}

let batchSeq = 0;
/** A short id unique within this bench invocation, for out_trade_no and transaction_id prefixes. */
const batchId = () => `${(Date.now() % 1e8).toString(36)}${(batchSeq++).toString(36)}`;

const me: Scenario = {
  name: 'me',
  distinct: false,
  ok: gqlOk('"me":{"id"'),
  async prepare(t) {
    const body = gqlBody('Me');
    return {
      next: () => {
        const k = t.sequence.me++;
        return {
          path: '/graphql',
          headers: { ...JSON_HEADERS, authorization: `Bearer ${t.users[k % t.users.length].token}` },
          body,
        };
      },
      verify: async () => undefined,
    };
  },
};

const login = (sim: SimulatorClient): Scenario => ({
  name: 'login',
  distinct: true,
  ok: gqlOk('"token":"'),
  async prepare(t, count) {
    // Every code is for a new openid: a campaign's first logins, each one an INSERT of a new user.
    const bodies = (await sim.loginCodes(count)).map(({ code }) => gqlBody('Login', { code }));
    const before = await scalar(t.db, 'SELECT COUNT(*) FROM users');
    return {
      next: (i) => {
        t.sequence.login++;
        return { path: '/graphql', headers: JSON_HEADERS, body: bodies[i] };
      },
      async verify({ succeeded, cut }) {
        const added = (await scalar(t.db, 'SELECT COUNT(*) FROM users')) - before;
        return added >= succeeded && added <= succeeded + cut
          ? undefined
          : `${succeeded} logins answered (${cut} cut off), but ${added} users were created`;
      },
    };
  },
});

const updateProfile: Scenario = {
  name: 'updateProfile',
  distinct: false,
  ok: gqlOk('"updateProfile":{"id"'),
  async prepare(t) {
    return {
      next: () => {
        // User k mod N, alternating between its two sealed profiles on each pass, so no update is a no-op.
        const k = t.sequence.updateProfile++;
        const u = k % t.users.length;
        const sealed = t.sealed[u][Math.floor(k / t.users.length) % 2];
        return {
          path: '/graphql',
          headers: { ...JSON_HEADERS, authorization: `Bearer ${t.users[u].token}` },
          body: gqlBody('UpdateProfile', { iv: sealed.iv, encryptedData: sealed.encryptedData }),
        };
      },
      verify: async () => undefined,
    };
  },
};

const createPayment: Scenario = {
  name: 'createPayment',
  distinct: false,
  ok: gqlOk('"paySign":"'),
  async prepare(t) {
    const before = await scalar(t.db, 'SELECT COUNT(*) FROM orders WHERE prepay_id IS NOT NULL');
    return {
      next: () => {
        const k = t.sequence.createPayment++;
        return {
          path: '/graphql',
          headers: { ...JSON_HEADERS, authorization: `Bearer ${t.users[k % t.users.length].token}` },
          body: gqlBody('CreatePayment', { money: 1 + (k % 1000) }),
        };
      },
      async verify({ succeeded, cut }) {
        const added = (await scalar(t.db, 'SELECT COUNT(*) FROM orders WHERE prepay_id IS NOT NULL')) - before;
        return added >= succeeded && added <= succeeded + cut
          ? undefined
          : `${succeeded} payments answered (${cut} cut off), but ${added} orders got a prepay_id`;
      },
    };
  },
};

/**
 * WeChat's pay-result notify for one order, MD5-signed with the pay key. Compact, as every earlier run sent it, so a
 * BENCH_SERVER_REF from before the layout fix (which refused WeChat's newline layout) can still be measured beside it.
 */
function notifyXml(
  o: { outTradeNo: string; openid: string; amount: number; transactionId: string },
  timeEnd: string,
  nonce: string,
): string {
  const fields: Record<string, string | number> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: SIMULATOR_IDENTITY.appid,
    mch_id: SIMULATOR_IDENTITY.mchId,
    nonce_str: nonce,
    result_code: 'SUCCESS',
    openid: o.openid,
    is_subscribe: 'N',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    total_fee: o.amount,
    fee_type: 'CNY',
    cash_fee: o.amount,
    transaction_id: o.transactionId,
    out_trade_no: o.outTradeNo,
    time_end: timeEnd,
  };
  const sign = paySignLib.paySign(fields, SIMULATOR_IDENTITY.payKey, 'MD5');
  return payXmlLib.buildPayXml({ ...fields, sign });
}

const notify: Scenario = {
  name: 'notify',
  distinct: true,
  ok: (body) => body.includes('<return_code><![CDATA[SUCCESS]]></return_code>'),
  async prepare(t, count) {
    // `count` PENDING orders straight into the target's database, and one signed notify for each: every request
    // makes a real PENDING → PAID transition.
    const id = batchId();
    const prefix = `BN${id}x`;
    const txPrefix = `4200${id}`.padEnd(14, '0');
    const now = new Date();
    const timeEnd = new Date(now.getTime() + 8 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
    const orders = Array.from({ length: count }, (_, i) => {
      const user = t.users[i % t.users.length];
      return {
        outTradeNo: `${prefix}${i}`,
        userId: user.userId,
        openid: user.openid,
        amount: 1 + (i % 1000),
        transactionId: `${txPrefix}${String(i).padStart(14, '0')}`,
      };
    });
    for (let i = 0; i < orders.length; i += 2000) {
      const chunk = orders.slice(i, i + 2000);
      await t.db.query<ResultSetHeader>(
        'INSERT INTO orders (out_trade_no, user_id, amount, description, status, created_at, updated_at) VALUES ?',
        [chunk.map((o) => [o.outTradeNo, o.userId, o.amount, 'Mini-program order', 'PENDING', now, now])],
      );
    }
    const bodies = orders.map((o, i) => notifyXml(o, timeEnd, `n${id}${i}`.padEnd(32, '0').slice(0, 32)));
    return {
      next: (i) => {
        t.sequence.notify++;
        return { path: '/notify', headers: { 'content-type': 'text/xml' }, body: bodies[i] };
      },
      async verify({ succeeded, sent, cut }) {
        const paid = await scalar(t.db, "SELECT COUNT(*) FROM orders WHERE out_trade_no LIKE ? AND status = 'PAID'", [
          `${prefix}%`,
        ]);
        if (paid < succeeded || paid > succeeded + cut)
          return `${succeeded} notifies answered SUCCESS (${cut} cut off), but ${paid} orders are PAID`;
        if (sent !== count) return `${sent} notifies sent for ${count} orders`;
        return undefined;
      },
    };
  },
};

export function scenarios(sim: SimulatorClient): Record<ScenarioName, Scenario> {
  return { me, login: login(sim), updateProfile, createPayment, notify };
}
