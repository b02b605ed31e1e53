import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startServer, type TestServer } from '../support/server';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes on the wire, before any decoding: what a browser transfers. */
  body: Buffer;
}

/** A GET whose body is read as sent: fetch() would ask for and undo the compression by itself. */
function rawGet(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** What Chromium sends when it opens http://127.0.0.1:4000/graphql. */
const BROWSER = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'accept-encoding': 'gzip, deflate, br, zstd',
};
const MB = 1024 * 1024;

describe('GraphiQL page transfer', () => {
  let t: TestServer;
  let plain: RawResponse;

  beforeAll(async () => {
    t = await startServer();
    plain = await rawGet(`${t.url}/graphql`, { accept: BROWSER.accept });
  });
  afterAll(() => t?.close());

  it('when a client asks without Accept-Encoding, then the whole page comes as it is, uncompressed', () => {
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^text\/html/);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toContain('wxmp-graphql');
    expect(plain.body.length).toBeGreaterThan(5 * MB);
  });

  it('when a browser opens it, then it is sent as brotli, under 3 MB on the wire, and decodes to the very same page', async () => {
    const res = await rawGet(`${t.url}/graphql`, BROWSER);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(3 * MB);
    expect(brotliDecompressSync(res.body).equals(plain.body)).toBe(true);
  });

  it('when a client takes only gzip, then gzip, under 3 MB, the same page', async () => {
    const res = await rawGet(`${t.url}/graphql`, { accept: BROWSER.accept, 'accept-encoding': 'gzip, br;q=0' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.length).toBeLessThan(3 * MB);
    expect(gunzipSync(res.body).equals(plain.body)).toBe(true);
  });

  it('when a browser comes back with the ETag it was given, then 304 with no body, and every answer says how to cache it', async () => {
    const first = await rawGet(`${t.url}/graphql`, BROWSER);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/"[\w-]+"$/);
    expect(plain.headers.etag).toBe(etag);
    for (const res of [first, plain]) {
      expect(res.headers['cache-control']).toBe('no-cache');
      // The same URL answers GraphQL GETs with JSON: a cache must key on Accept as well as the encoding.
      expect(res.headers.vary).toBe('Accept, Accept-Encoding');
    }

    const again = await rawGet(`${t.url}/graphql`, { ...BROWSER, 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);

    const stale = await rawGet(`${t.url}/graphql`, { ...BROWSER, 'if-none-match': 'W/"an-older-page"' });
    expect(stale.status).toBe(200);
    expect(stale.headers['content-encoding']).toBe('br');
  });

  it('when GraphQL is asked by POST or GET with Accept-Encoding, then its JSON answers are not compressed and carry no page headers', async () => {
    const post = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip, br' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('content-encoding')).toBeNull();
    expect(post.headers.get('etag')).toBeNull();
    expect(await post.json()).toEqual({ data: { __typename: 'Query' } });

    const get = await rawGet(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      accept: 'application/json',
      'accept-encoding': 'gzip, br',
      'apollo-require-preflight': '1',
    });
    expect(get.status).toBe(200);
    expect(get.headers['content-encoding']).toBeUndefined();
    expect(get.headers['cache-control']).toBeUndefined();
    expect(JSON.parse(get.body.toString())).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('GraphiQL turned off', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ env: { PLAYGROUND: '0' } });
  });
  afterAll(() => t?.close());

  it('when PLAYGROUND=0 and a browser opens /graphql, then no page is served', async () => {
    const res = await rawGet(`${t.url}/graphql`, BROWSER);
    expect(res.headers['content-type']).not.toMatch(/^text\/html/);
    expect(res.body.length).toBeLessThan(1024);
  });
});
