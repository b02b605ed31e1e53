import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyReply, FastifyRequest } from 'fastify';

type Encoding = 'br' | 'gzip';

const compressors: Record<Encoding, (page: Buffer) => Promise<Buffer>> = {
  // Quality 5: 9 MB → 1.9 MB in ~0.3 s. Quality 11 saves 0.2 MB more and takes ~20 s.
  br: (page) =>
    promisify(brotliCompress)(page, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: page.length },
    }),
  // For a client without br: 9 MB → 2.4 MB in ~0.35 s (level 9: 10 KB less in twice the time).
  gzip: (page) => promisify(gzip)(page, { level: 6 }),
};

interface Page {
  html: string;
  etag: string;
  bytes: Buffer;
  encoded: Partial<Record<Encoding, Promise<Buffer>>>;
}

export interface GraphiQL {
  /** Apollo's landing page: Apollo decides when a GET /graphql wants it (a browser's Accept) and answers the HTML. */
  plugin: ApolloServerPlugin;
  /**
   * /graphql's onSend hook: that HTML leaves compressed, with an ETag, answered 304 when the browser has it already.
   * Every other answer (each GraphQL result) passes after one comparison and is never compressed.
   */
  onSend: (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>;
}

/**
 * GraphiQL as Apollo's landing page (GET /graphql from a browser), rendered from the local npm package: one
 * self-contained page with no CDN or external host, so it works offline and behind the Great Firewall. Apollo's
 * default landing page loads from apollographql.com and Google Fonts, which is blank there.
 */
export function createGraphiQL(): GraphiQL {
  let loading: Promise<Page> | undefined;
  let page: Page | undefined;
  // Loaded on first use: the package is one 9 MB string that a server nobody browses need not hold.
  const load = () =>
    (loading ??= (async () => {
      const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
      const html = renderGraphiQL({
        endpoint: '/graphql',
        title: 'wxmp-graphql',
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        defaultQuery:
          '# Log in with a simulator code, then put the token in Headers:\n# {"Authorization": "Bearer <token>"}\n{\n  me {\n    id\n    openid\n    nickname\n  }\n}\n',
      });
      const bytes = Buffer.from(html);
      // Weak: the br, gzip and plain bodies are different bytes of the same page.
      const etag = `W/"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
      page = { html, etag, bytes, encoded: {} };
      return page;
    })());

  return {
    plugin: {
      async serverWillStart() {
        return {
          async renderLandingPage() {
            return { html: async () => (await load()).html };
          },
        };
      },
    },
    async onSend(request, reply, payload) {
      if (request.method !== 'GET' || page === undefined || payload !== page.html) return payload;
      // The same URL answers GraphQL GETs with JSON, so caches key on Accept too. no-cache: always revalidated, so a
      // new release's page shows at once, and an unchanged one costs a 304.
      reply.header('vary', 'Accept, Accept-Encoding');
      reply.header('cache-control', 'no-cache');
      reply.header('etag', page.etag);
      if (matchesEtag(request.headers['if-none-match'], page.etag)) {
        reply.code(304);
        return null;
      }
      const encoding = pickEncoding(request.headers['accept-encoding']);
      if (!encoding) return page.bytes;
      reply.header('content-encoding', encoding);
      return (page.encoded[encoding] ??= compressors[encoding](page.bytes));
    },
  };
}

/** br when the client takes it, else gzip, else none; `q=0` refuses an encoding, `*` stands for any not named. */
export function pickEncoding(header: string | string[] | undefined): Encoding | undefined {
  if (!header) return undefined;
  const weights = new Map<string, number>();
  for (const part of String(header).split(',')) {
    const [name, ...params] = part.split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    weights.set(name.trim().toLowerCase(), q === undefined ? 1 : Number(q));
  }
  const weight = (encoding: Encoding) => weights.get(encoding) ?? weights.get('*') ?? 0;
  const br = weight('br');
  const gz = weight('gzip');
  if (br > 0 && br >= gz) return 'br';
  if (gz > 0) return 'gzip';
  return undefined;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  // If-None-Match compares weakly: W/"x" and "x" are the same validator.
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}
