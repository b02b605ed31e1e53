import { Client, fetchExchange, gql } from '@urql/core';
import { LOGOUT, ME, startServer, type TestServer } from '../support/server';

/**
 * The web clients people reach for, with their defaults, over real HTTP: urql sends queries as GET
 * (`preferGetMethod: 'within-url-limit'`) and Apollo Client's BatchHttpLink batches up to 10 operations.
 */
describe('web GraphQL clients with their defaults', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** An urql client as its docs set it up, recording the HTTP method of every request it sends. */
  function urql(headers: Record<string, string>) {
    const methods: string[] = [];
    const client = new Client({
      url: `${t.url}/graphql`,
      exchanges: [fetchExchange],
      fetchOptions: { headers },
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
    return { client, methods };
  }

  const MeQuery = gql`
    query Me {
      me {
        openid
      }
    }
  `;

  it('when urql sends a query as GET with the Bearer token, then it is answered (the token is what CSRF prevention accepts)', async () => {
    const user = await t.login();
    const { client, methods } = urql({ authorization: `Bearer ${user.token}` });
    const res = await client.query(MeQuery, {}).toPromise();
    expect(res.error).toBeUndefined();
    expect(res.data).toEqual({ me: { openid: user.openid } });
    expect(methods).toEqual(['GET']);
  });

  it('when a GET query carries no token, then CSRF prevention refuses it, and apollo-require-preflight: true lets it through', async () => {
    const anonymous = urql({});
    const refused = await anonymous.client
      .query(
        gql`
          {
            __typename
          }
        `,
        {},
      )
      .toPromise();
    expect(anonymous.methods).toEqual(['GET']);
    expect(refused.data).toBeUndefined();
    // urql types the failed fetch's response as any; it is the fetch Response.
    expect((refused.error?.response as Response | undefined)?.status).toBe(400);
    expect(refused.error?.message).toMatch(/Cross-Site Request Forgery/);

    const preflighted = urql({ 'apollo-require-preflight': 'true' });
    const answered = await preflighted.client
      .query(
        gql`
          {
            __typename
          }
        `,
        {},
      )
      .toPromise();
    expect(preflighted.methods).toEqual(['GET']);
    expect(answered.error).toBeUndefined();
    expect(answered.data).toEqual({ __typename: 'Query' });
  });

  it('when a mutation comes as GET, even with the Bearer token, then it is refused and does not run; urql sends it as POST', async () => {
    const user = await t.login();
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent(LOGOUT)}`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(res.status).toBe(405);
    expect(JSON.stringify(await res.json())).toMatch(/GET.*quer/i);
    // Not logged out: the mutation never ran.
    expect((await t.gql<{ me: { openid: string } }>(ME, {}, user.token)).data?.me.openid).toBe(user.openid);

    const { client, methods } = urql({ authorization: `Bearer ${user.token}` });
    const logout = await client.mutation(gql(LOGOUT), {}).toPromise();
    expect(methods).toEqual(['POST']);
    expect(logout.data).toEqual({ logout: true });
    expect((await t.gql(ME, {}, user.token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("when a batch holds Apollo Client's default 10 operations, then each is answered; 11 is over the default GRAPHQL_MAX_BATCH", async () => {
    const batch = (n: number) =>
      fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: n }, () => ({ query: '{ __typename }' }))),
      });
    const ten = await batch(10);
    expect(ten.status).toBe(200);
    expect(await ten.json()).toEqual(Array.from({ length: 10 }, () => ({ data: { __typename: 'Query' } })));
    const eleven = await batch(11);
    expect(eleven.status).toBe(400);
    expect(JSON.stringify(await eleven.json())).toContain('BATCH_TOO_LARGE');
  });
});
