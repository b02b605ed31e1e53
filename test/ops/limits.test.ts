import { randomBytes } from 'node:crypto';
import { LOGIN, ME, codeOf, startServer, type TestServer } from '../support/server';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { freshDatabase, onServices } from '../support/target';

const post = (t: TestServer, body: string, headers: Record<string, string>) =>
  fetch(`${t.url}/graphql`, { method: 'POST', headers, body });
const randomIp = () => `10.${randomBytes(3).join('.')}`;

describe('request limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      env: {
        GRAPHQL_MAX_DEPTH: '2',
        GRAPHQL_MAX_ALIASES: '3',
        GRAPHQL_MAX_COST: '120',
        GRAPHQL_MAX_BATCH: '3',
        BODY_LIMIT_BYTES: '20000',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a body is over BODY_LIMIT_BYTES, then 413 and nothing runs', async () => {
    const res = await post(t, JSON.stringify({ query: `{ me { id } }`, variables: { pad: 'x'.repeat(30000) } }), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(413);
  });

  it('when a query is deeper than GRAPHQL_MAX_DEPTH, then QUERY_TOO_COMPLEX before anything executes', async () => {
    const shallow = await t.gql(`mutation { login(code: "x") { token } }`);
    expect(codeOf(shallow)).toBe('WECHAT_CODE_INVALID');
    const deep = await t.gql(`mutation { login(code: "x") { user { id } } }`);
    expect(codeOf(deep)).toBe('QUERY_TOO_COMPLEX');
    expect(deep.errors![0].message).toMatch(/depth 3 exceeds the limit of 2/);
    const viaFragments = await t.gql(
      `mutation { login(code: "x") { ...P } } fragment P on LoginPayload { ... on LoginPayload { user { id } } }`,
    );
    expect(codeOf(viaFragments)).toBe('QUERY_TOO_COMPLEX');
  });

  it('when a query has more aliases than GRAPHQL_MAX_ALIASES, then QUERY_TOO_COMPLEX and no resolver runs', async () => {
    const four = await t.gql(`{ a: me { id } b: me { id } c: me { id } d: me { id } }`);
    expect(codeOf(four)).toBe('QUERY_TOO_COMPLEX');
    expect(four.errors![0].message).toMatch(/alias count 4 exceeds the limit of 3/);
    const three = await t.gql(`{ a: me { id } b: me { id } c: me { id } }`);
    expect(codeOf(three)).toBe('UNAUTHENTICATED');
  });

  it('when a query would cost more than GRAPHQL_MAX_COST, then QUERY_TOO_COMPLEX; lists cost their page size', async () => {
    const cheap = await t.gql(`{ orders(first: 5) { id amount status } }`);
    expect(codeOf(cheap)).toBe('UNAUTHENTICATED');
    const costly = await t.gql(`{ orders(first: 100) { id amount status } }`);
    expect(codeOf(costly)).toBe('QUERY_TOO_COMPLEX');
    expect(costly.errors![0].message).toMatch(/cost 301 exceeds the limit of 120/);
  });

  it('when the page size is a variable, then the largest page is assumed', async () => {
    const res = await t.gql(`query($n: Int) { orders(first: $n) { id amount status } }`, { n: 1 });
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('when nesting comes through fragments, then it is still measured', async () => {
    const res = await t.gql(
      `{ ...Q } fragment Q on Query { orders(first: 50) { ...O } } fragment O on Order { id amount status }`,
    );
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('when a batch holds more than GRAPHQL_MAX_BATCH operations, then 400; within it, each is answered', async () => {
    const op = { query: '{ __typename }' };
    const over = await post(t, JSON.stringify([op, op, op, op]), { 'content-type': 'application/json' });
    expect(over.status).toBe(400);
    expect(JSON.stringify(await over.json())).toContain('BATCH_TOO_LARGE');
    const within = await post(t, JSON.stringify([op, op]), { 'content-type': 'application/json' });
    expect(within.status).toBe(200);
    expect(await within.json()).toEqual([{ data: { __typename: 'Query' } }, { data: { __typename: 'Query' } }]);
  });

  it("when a request is a browser's simple cross-site request, then CSRF prevention refuses it; wx.request's JSON POST passes", async () => {
    // Content types a cross-site <form> may send are refused outright (415 from Fastify, 400 from Apollo's CSRF check).
    const form = await post(t, 'query={__typename}', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([400, 415]).toContain(form.status);
    const text = await post(t, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
    expect([400, 415]).toContain(text.status);
    // A GET needs a preflight-forcing header; a plain cross-site GET is refused.
    const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(400);
    const wxRequest = await post(t, JSON.stringify({ query: '{ __typename }' }), {
      'content-type': 'application/json',
    });
    expect(wxRequest.status).toBe(200);
  });
});

describe('login rate limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ env: { TRUST_PROXY: '1', LOGIN_RATE_PER_IP: '3', LOGIN_RATE_PER_OPENID: '2' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const loginFrom = async (ip: string, openid?: string, server = t) => {
    const { code } = await server.sim.loginCode(openid ? { openid } : {});
    return server.gql(LOGIN, { code }, undefined, { 'x-forwarded-for': ip });
  };
  /** A code WeChat never issued: jscode2session refuses it with 40029. */
  const bogusFrom = (ip: string, server = t) =>
    server.gql(LOGIN, { code: `bogus${randomBytes(8).toString('hex')}` }, undefined, { 'x-forwarded-for': ip });
  /** Code exchanges this server sent to WeChat (here, the simulator), as its own metrics count them. */
  const exchanges = async (server = t) =>
    (await server.server.metrics.wechatCalls.get()).values
      .filter((v) => v.labels.api === 'jscode2session')
      .reduce((n, v) => n + v.value, 0);

  it('when one IP sends more codes WeChat refuses than LOGIN_RATE_PER_IP, then RATE_LIMITED with a retry time and no further code reaches WeChat; other IPs are unaffected', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i++) expect(codeOf(await bogusFrom(ip))).toBe('WECHAT_CODE_INVALID');
    const before = await exchanges();
    const limited = await bogusFrom(ip);
    expect(codeOf(limited)).toBe('RATE_LIMITED');
    expect(limited.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(codeOf(await bogusFrom(ip))).toBe('RATE_LIMITED');
    // Once over, even a valid code from that IP waits: it cannot be told apart before WeChat is asked.
    expect(codeOf(await loginFrom(ip))).toBe('RATE_LIMITED');
    expect(await exchanges()).toBe(before);
    expect((await loginFrom(randomIp())).errors).toBeUndefined();
  });

  it('when LOGIN_RATE_PER_IP is 3 and 10 users behind one NAT log in with valid codes, then every login succeeds', async () => {
    const nat = randomIp();
    for (let i = 0; i < 10; i++) expect((await loginFrom(nat)).errors).toBeUndefined();
    // Their valid logins did not use up the allowance for refused codes either.
    for (let i = 0; i < 3; i++) expect(codeOf(await bogusFrom(nat))).toBe('WECHAT_CODE_INVALID');
    expect(codeOf(await bogusFrom(nat))).toBe('RATE_LIMITED');
  });

  it('when 10 bogus codes from one IP arrive at once, then at most LOGIN_RATE_PER_IP of them reach WeChat', async () => {
    const ip = randomIp();
    const before = await exchanges();
    const codes = (await Promise.all(Array.from({ length: 10 }, () => bogusFrom(ip)))).map(codeOf);
    expect(codes.filter((c) => c === 'WECHAT_CODE_INVALID').length).toBeLessThanOrEqual(3);
    expect(codes.filter((c) => c !== 'WECHAT_CODE_INVALID').every((c) => c === 'RATE_LIMITED')).toBe(true);
    expect(await exchanges()).toBeLessThanOrEqual(before + 3);
  });

  it('when a client writes its own X-Forwarded-For entries, then only the hop our proxy added counts', async () => {
    const proxySaw = randomIp();
    for (let i = 0; i < 3; i++)
      expect(codeOf(await bogusFrom(`${randomIp()}, ${proxySaw}`))).toBe('WECHAT_CODE_INVALID');
    expect(codeOf(await bogusFrom(`6.6.6.6, ${proxySaw}`))).toBe('RATE_LIMITED');
  });

  it('when one openid logs in more than LOGIN_RATE_PER_OPENID times, then RATE_LIMITED even from different IPs', async () => {
    const openid = `oRate${randomBytes(6).toString('hex')}`;
    expect((await loginFrom(randomIp(), openid)).errors).toBeUndefined();
    expect((await loginFrom(randomIp(), openid)).errors).toBeUndefined();
    expect(codeOf(await loginFrom(randomIp(), openid))).toBe('RATE_LIMITED');
  });

  it('when two instances share Redis, then they share the count', async () => {
    const other = await startServer({ env: { TRUST_PROXY: '1', LOGIN_RATE_PER_IP: '3', LOGIN_RATE_PER_OPENID: '2' } });
    try {
      const ip = randomIp();
      for (let i = 0; i < 2; i++) expect(codeOf(await bogusFrom(ip))).toBe('WECHAT_CODE_INVALID');
      expect(codeOf(await bogusFrom(ip, other))).toBe('WECHAT_CODE_INVALID');
      const fourth = await bogusFrom(ip, other);
      // With Redis the instances count together; the in-process store (embedded default) counts per process.
      expect(codeOf(fourth)).toBe(onServices ? 'RATE_LIMITED' : 'WECHAT_CODE_INVALID');
    } finally {
      await other.close();
    }
  });
});

describe('production error masking', () => {
  it('when something unexpected fails in production, then the client gets a generic error and the log gets the cause', async () => {
    const sim = await startStandaloneSimulator();
    const t = await startServer({ env: { NODE_ENV: 'production', ...sim.env() } });
    try {
      const { code } = await sim.loginCode();
      const login = await t.gql<{ login: { token: string } }>(LOGIN, { code });
      const token = login.data!.login.token;
      // Break the database under the running server: the next query fails with an SQL error.
      await t.server.orm.em.fork().getConnection().execute('alter table orders rename to orders_gone');
      const res = await t.gql(`{ orders { id } }`, {}, token);
      expect(res.errors).toEqual([
        {
          message: 'Internal server error.',
          path: ['orders'],
          locations: [{ line: 1, column: 3 }],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ]);
      expect(res.text).not.toMatch(/exist|table|sql|select|stack/i);
      expect(t.logs.some((l) => l.includes('unexpected error') && /orders/.test(l))).toBe(true);

      // No schema hints for strangers, and no introspection.
      const typo = await t.gql(`{ mee { id } }`, {}, token);
      expect(typo.errors![0].message).not.toMatch(/Did you mean/);
      const intro = await t.gql(`{ __schema { types { name } } }`);
      expect(intro.errors?.[0].message).toMatch(/introspection/i);
      // And no playground page.
      const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(await page.text()).not.toMatch(/GraphiQL|graphiql/);
      expect((await t.gql(ME, {}, token)).data).not.toBeNull();
    } finally {
      await t.close();
      await sim.close();
    }
  });

  it('when NODE_ENV=production and PLAYGROUND=1, then introspection is on', async () => {
    const sim = await startStandaloneSimulator();
    const t = await startServer({ env: { NODE_ENV: 'production', PLAYGROUND: '1', ...sim.env() } });
    try {
      const intro = await t.gql<{ __schema: { queryType: { name: string } } }>(`{ __schema { queryType { name } } }`);
      expect(intro.data?.__schema.queryType.name).toBe('Query');
    } finally {
      await t.close();
      await sim.close();
    }
  });
});

describe('payment rate limit', () => {
  const limits = { PAY_RATE_PER_USER: '3', PAY_RATE_WINDOW_SECONDS: '60' };
  const createPaymentOp = (money: number) => ({
    query: `mutation { createPayment(money: ${money}) { order { outTradeNo } } }`,
  });
  const ordersOf = async (server: TestServer, token: string) =>
    (await server.gql<{ orders: unknown[] }>(`{ orders(first: 100) { id } }`, {}, token)).data!.orders.length;

  it('when a batch holds more createPayment operations than PAY_RATE_PER_USER, then each one counts: the rest are RATE_LIMITED with a retry time and create no order', async () => {
    const t = await startServer({ env: limits });
    try {
      const { token } = await t.login();
      const res = await post(t, JSON.stringify([1, 2, 3, 4].map(createPaymentOp)), {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
      const answers = (await res.json()) as {
        data: unknown;
        errors?: { extensions: { code: string; retryAfterSeconds?: number } }[];
      }[];
      expect(answers.slice(0, 3).map((a) => a.errors)).toEqual([undefined, undefined, undefined]);
      expect(answers[3].errors![0].extensions.code).toBe('RATE_LIMITED');
      expect(answers[3].errors![0].extensions.retryAfterSeconds).toBeGreaterThan(0);
      expect(await ordersOf(t, token)).toBe(3);
      // Another user has an allowance of their own.
      const other = await t.login();
      expect(
        (await t.gql(`mutation { createPayment(money: 1) { order { id } } }`, {}, other.token)).errors,
      ).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  (onServices ? it : it.skip)('when two instances share Redis, then a user has one allowance across both', async () => {
    const database = await freshDatabase();
    const a = await startServer({ env: limits, database });
    const b = await startServer({ env: { ...limits, MIGRATE_ON_START: '0' }, database });
    try {
      const { token } = await a.login();
      const pay = (server: TestServer) =>
        server.gql(`mutation { createPayment(money: 1) { order { id } } }`, {}, token);
      expect((await pay(a)).errors).toBeUndefined();
      expect((await pay(b)).errors).toBeUndefined();
      expect((await pay(a)).errors).toBeUndefined();
      expect(codeOf(await pay(b))).toBe('RATE_LIMITED');
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

describe('GraphQL parsing', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("when a stranger's 97 KB query holds more than GRAPHQL_MAX_TOKENS tokens, then GRAPHQL_PARSE_FAILED naming the limit, before validation runs", async () => {
    // Repeated fields make graphql-js validation (OverlappingFieldsCanBeMerged) quadratic: without the token limit
    // this one cost 200–500 ms of CPU per request here, and was then refused as QUERY_TOO_COMPLEX anyway.
    const query = `{ ${'me { id } '.repeat(9700)} }`;
    expect(query.length).toBeGreaterThan(97_000);
    const res = await post(t, JSON.stringify({ query }), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    // graphql-js's own wording ("more that 2000 tokens"); the number is GRAPHQL_MAX_TOKENS.
    expect(body.errors[0].message).toMatch(/Document contains more tha[nt] 2000 tokens/);
    expect((await t.gql(`{ __typename }`)).data).toEqual({ __typename: 'Query' });
  });
});
