import { ApolloServer, HeaderMap } from '@apollo/server';
import { Readable } from 'node:stream';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { EntityManager } from '@mikro-orm/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../core/config';
import type { Orm } from '../core/db';
import { formatError } from '../core/graphql';
import { queryLimitsRule } from '../core/graphql-limits';
import { bearerToken } from '../auth/session';
import { isAdminToken } from '../auth/admin';
import type { Metrics } from '../ops/metrics';
import { createGraphiQL } from '../ops/graphiql.plugin';
import { operationLogPlugin } from '../ops/operation-log.plugin';
import type { Context, Services } from './context';
import { buildAppSchema } from './schema';

export interface GraphQLParts {
  orm: Orm;
  services: Services;
  metrics: Metrics;
}

/** Apollo, configured and started: the schema, its limits and plugins, and what this API allows over HTTP. */
async function startApollo(
  config: Config,
  metrics: Metrics,
  landingPage: ReturnType<typeof createGraphiQL> | undefined,
) {
  const apollo = new ApolloServer<Context>({
    schema: await buildAppSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    // Apollo would otherwise install its own SIGTERM handler that re-raises the signal mid-drain (exit 143);
    // main.ts owns shutdown.
    stopOnTerminationSignals: false,
    introspection: config.playground,
    // In production, no "Did you mean …?" hints that map the schema for a stranger.
    hideSchemaDetailsFromClientErrors: config.env === 'production',
    // A batch is a JSON array of operations; its length is capped in the route's preValidation.
    allowBatchedHttpRequests: true,
    // A GET (or a form-type POST) runs only with a header a cross-site page cannot send without a CORS preflight.
    // Apollo's two, plus Authorization: a Bearer token is this API's only credential (no cookies), so a GET query
    // that carries one (urql sends queries as GET by default) is no forgery. Apollo refuses GET mutations anyway.
    csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
    // Refused while parsing, before validation, whose cost grows with the square of repeated fields.
    parseOptions: { maxTokens: config.limits.tokens },
    validationRules: [queryLimitsRule(config.limits)],
    plugins: [
      landingPage?.plugin ?? ApolloServerPluginLandingPageDisabled(),
      operationLogPlugin(metrics),
      // Both would hook every field resolution for features we do not use (cache hints, federated traces).
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * A request's context. Its EntityManager is forked on first use, so an operation that touches no entity (me, logout,
 * an UNAUTHENTICATED answer) pays for no fork. The getter lives on the prototype: Apollo hands each operation a clone
 * made with Object.create(prototype) and Object.assign, which would call an own getter and fork at once.
 */
export class RequestContext implements Context {
  private forked: EntityManager | undefined = undefined;
  declare readonly db: EntityManager;
  declare readonly ip: string;
  declare readonly token?: string;
  declare readonly session?: Context['session'];
  declare readonly sessionError?: Error;
  declare readonly admin?: boolean;
  declare readonly services: Services;
  declare readonly log: Context['log'];

  /** Every field the caller gives is kept, one added to Context later included. */
  constructor(fields: Omit<Context, 'em'>) {
    Object.assign(this, fields);
  }

  get em(): EntityManager {
    return (this.forked ??= this.db.fork());
  }
}

/** The request's context: the session its Bearer token names (or why it could not be read). */
function contextOf({ orm, services }: GraphQLParts, adminTokenHashes: ReadonlySet<string>) {
  return async (request: FastifyRequest): Promise<Context> => {
    const token = bearerToken(request.headers.authorization);
    let session: Context['session'];
    let sessionError: Error | undefined;
    // An operator's token is no session: it is recognised by its SHA-256 alone, and never looked up in the store.
    const admin = token !== undefined && isAdminToken(token, adminTokenHashes);
    if (token && !admin) {
      try {
        session = await services.sessions.load(token);
      } catch (err) {
        sessionError = err as Error;
      }
    }
    return new RequestContext({
      db: orm.em,
      ip: request.ip,
      token,
      session,
      sessionError,
      admin: admin || undefined,
      services,
      log: request.log,
    });
  };
}

/**
 * Fastify → Apollo, as @as-integrations/fastify 3 did it, less its per-request URL parse: it rebuilt the query string
 * with `new URL(request.url, \`${request.protocol}://${request.hostname}/\`)`, which also runs the trustProxy function
 * twice to read X-Forwarded-* headers that nothing here uses. The query string is what follows `?` in the URL.
 * (2–3% of `me`'s CPU, bench/RESULTS.md.)
 */
function apolloHandler(apollo: ApolloServer<Context>, context: (request: FastifyRequest) => Promise<Context>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const headers = new HeaderMap();
    for (const name in request.headers) {
      const value = request.headers[name];
      if (value) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const q = request.url.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: request.method.toUpperCase(),
        headers,
        body: request.body,
        search: q < 0 ? '' : request.url.slice(q),
      },
      context: () => context(request),
    });
    for (const [name, value] of response.headers) void reply.header(name, value);
    void reply.code(response.status ?? 200);
    if (response.body.kind === 'complete') return response.body.string;
    return reply.send(Readable.from(response.body.asyncIterator));
  };
}

/** /graphql: POST for every client operation and batch, GET for queries and for GraphiQL's page. Returns Apollo, to stop it on close. */
export async function mountGraphQL(
  app: FastifyInstance,
  config: Config,
  parts: GraphQLParts,
): Promise<ApolloServer<Context>> {
  const graphiql = config.playground ? createGraphiQL() : undefined;
  const apollo = await startApollo(config, parts.metrics, graphiql);
  const route = {
    url: '/graphql',
    // The operation log plugin writes each operation's own line (ops/operation-log.plugin.ts).
    config: { accessLog: 'debug' as const },
    preValidation: async (req: FastifyRequest, reply: FastifyReply) => {
      if (Array.isArray(req.body) && req.body.length > config.limits.batch) {
        return reply.code(400).send({
          errors: [
            {
              message: `A batch may hold at most ${config.limits.batch} operations.`,
              extensions: { code: 'BATCH_TOO_LARGE' },
            },
          ],
        });
      }
    },
    handler: apolloHandler(apollo, contextOf(parts, config.adminTokenHashes)),
  };
  app.route({ ...route, method: 'POST' });
  // A preflight, a page load or a GET query has no operation line of its own (or not only): its access line is info.
  app.route({ ...route, method: 'OPTIONS', config: {} });
  // GraphiQL's page is a GET: the hook that compresses it stays off the POST route every client operation takes.
  app.route({ ...route, method: 'GET', config: {}, ...(graphiql ? { onSend: graphiql.onSend } : {}) });
  return apollo;
}
