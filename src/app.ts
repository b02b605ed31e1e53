import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { Logger } from 'pino';
import type { Config } from './core/config';
import { createCache, type Cache } from './core/cache';
import { closeDatabase, openDatabase, type Orm } from './core/db';
import { buildAppSchema, formatError } from './core/graphql';
import { queryLimitsRule } from './core/graphql-limits';
import { createLogger } from './core/logger';
import type { Context, Services } from './core/context';
import { bearerToken, createSessionStore } from './auth/session';
import { createLoginClient } from './wechat/login.client';
import { createPayClient } from './wechat/pay.client';
import { notifyRoutes } from './payment/notify.route';
import { simulatorPlugin } from './simulator/simulator.plugin';
import { createMetrics } from './ops/metrics';
import { metricsAccess, opsRoutes } from './ops/ops.routes';
import { createGraphiQL } from './ops/graphiql.plugin';
import { migrationsFor } from './migrations';
import { startupSummary } from './ops/startup-summary';
import { operationLogPlugin } from './ops/operation-log.plugin';

export interface AppOptions {
  /** Defaults to a pino logger on stdout at config.logLevel. */
  logger?: Logger;
}

export interface App {
  app: FastifyInstance;
  orm: Orm;
  cache: Cache;
  services: Services;
  /** Listens on config.host:config.port (0 = any free port) and returns the base URL. */
  listen(): Promise<string>;
  /** This server's own base URL once listening. */
  url(): string;
  /**
   * Stops accepting, lets in-flight requests finish for up to config.shutdownTimeoutMs (then cuts their
   * connections), then closes the database and the store.
   */
  close(): Promise<void>;
}

export const SIMULATOR_PREFIX = '/simulator';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
/** Slow headers are the cheapest way to hold a connection (slowloris); real clients send them in one packet. */
const HEADERS_TIMEOUT_MS = 10_000;

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel, undefined, config.logFormat);
  const { orm, migrated, serverVersion } = await openDatabase(config.database, config.migrateOnStart, config.databaseTimeoutMs);
  const cache = createCache({ redisUrl: config.redisUrl, namespace: config.redisNamespace, timeoutMs: config.cacheTimeoutMs, logger });
  const metrics = createMetrics();

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // X-Forwarded-For is believed only for the proxies we run (sent to WeChat Pay, and rate-limit keys).
    trustProxy: (_address: string, hop: number) => hop < config.trustProxy,
    bodyLimit: config.limits.bodyBytes,
    // Fastify's requestTimeout defaults to 0: a client that stops mid-body would hold its connection forever.
    requestTimeout: config.limits.requestTimeoutMs,
    keepAliveTimeout: config.limits.keepAliveTimeoutMs,
    // A socket silent this long in both directions (a response nobody reads) is closed: above every request's own bounds.
    connectionTimeout: Math.max(120_000, config.limits.requestTimeoutMs),
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, config.limits.requestTimeoutMs),
      // Node enforces both timeouts only when it sweeps its connections (every 30 s by default).
      connectionsCheckingInterval: Math.min(1000, config.limits.requestTimeoutMs),
    },
    // One access line per request is written below; Fastify's two default lines would double the logging cost.
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's X-Request-Id is kept when it is tame, so logs can be joined across services.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const line = { method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    // GraphQL operations and notifies get their own, richer line; their access line is debug.
    if (req.method === 'POST' && (req.url.startsWith('/graphql') || req.url === '/notify')) req.log.debug(line, 'request');
    else req.log.info(line, 'request');
  });

  const url = () => {
    const address = app.server.address() as AddressInfo | null;
    if (!address) throw new Error('server is not listening yet');
    return `http://127.0.0.1:${address.port}`;
  };

  if (config.simulator) {
    await app.register(simulatorPlugin, {
      prefix: SIMULATOR_PREFIX,
      appid: config.wechat.appid,
      secret: config.wechat.secret,
      mchId: config.pay!.mchId,
      payKey: config.pay!.key,
      xmlLayout: config.simulatorXmlLayout,
    });
  }
  const simulatorBase = () => `${url()}${SIMULATOR_PREFIX}`;
  const pay = config.pay;
  const onCall = (api: string, outcome: string) => metrics.wechatCalls.inc({ api, outcome });

  const services: Services = {
    config,
    logger,
    cache,
    metrics,
    sessions: createSessionStore(cache, config.sessionTtlSeconds),
    wechatLogin: createLoginClient({
      apiBase: () => config.wechat.apiBase ?? simulatorBase(),
      appid: config.wechat.appid,
      secret: config.wechat.secret,
      timeoutMs: config.wechat.timeoutMs,
      onCall,
    }),
    wechatPay: pay
      ? createPayClient({
          apiBase: () => pay.apiBase ?? simulatorBase(),
          appid: config.wechat.appid,
          mchId: pay.mchId,
          key: pay.key,
          signType: pay.signType,
          timeoutMs: config.wechat.timeoutMs,
          onCall,
        })
      : undefined,
    notifyUrl: () => pay?.notifyUrl ?? `${url()}/notify`,
  };

  const graphiql = config.playground ? createGraphiQL() : undefined;
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
    // A batch is a JSON array of operations; its length is capped in preValidation below.
    allowBatchedHttpRequests: true,
    // A GET (or a form-type POST) runs only with a header a cross-site page cannot send without a CORS preflight.
    // Apollo's two, plus Authorization: a Bearer token is this API's only credential (no cookies), so a GET query
    // that carries one (urql sends queries as GET by default) is no forgery. Apollo refuses GET mutations anyway.
    csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
    // Refused while parsing, before validation, whose cost grows with the square of repeated fields.
    parseOptions: { maxTokens: config.limits.tokens },
    validationRules: [queryLimitsRule(config.limits)],
    plugins: [
      graphiql?.plugin ?? ApolloServerPluginLandingPageDisabled(),
      operationLogPlugin(metrics),
      // Both would hook every field resolution for features we do not use (cache hints, federated traces).
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  await apollo.start();

  const graphqlRoute = {
    url: '/graphql',
    preValidation: async (req: FastifyRequest, reply: FastifyReply) => {
      if (Array.isArray(req.body) && req.body.length > config.limits.batch) {
        return reply.code(400).send({ errors: [{ message: `A batch may hold at most ${config.limits.batch} operations.`, extensions: { code: 'BATCH_TOO_LARGE' } }] });
      }
    },
    handler: fastifyApolloHandler(apollo, {
      context: async (request): Promise<Context> => {
        const token = bearerToken(request.headers.authorization);
        let session: Context['session'];
        let sessionError: Error | undefined;
        if (token) {
          try {
            session = await services.sessions.load(token);
          } catch (err) {
            sessionError = err as Error;
          }
        }
        return { em: orm.em.fork(), ip: request.ip, token, session, sessionError, services, log: request.log };
      },
    }),
  };
  app.route({ ...graphqlRoute, method: ['POST', 'OPTIONS'] });
  // GraphiQL's page is a GET: the hook that compresses it stays off the POST route every client operation takes.
  app.route({ ...graphqlRoute, method: 'GET', ...(graphiql ? { onSend: graphiql.onSend } : {}) });

  await app.register(notifyRoutes, { orm, services });
  await app.register(opsRoutes, { orm, cache, metrics, metricsAccess: metricsAccess(config), databaseTimeoutMs: config.databaseTimeoutMs });

  let closing: Promise<void> | undefined;
  return {
    app,
    orm,
    cache,
    services,
    async listen() {
      // Fastify would log a bare "Server listening at …" per address; the summary below says it with the rest.
      const level = app.log.level;
      if (logger.isLevelEnabled('info')) app.log.level = 'warn';
      try {
        await app.listen({ port: config.port, host: config.host });
      } finally {
        app.log.level = level;
      }
      const { msg, startup } = startupSummary({
        listen: listenAddress(app),
        baseUrl: url(),
        database: config.database,
        databaseVersion: serverVersion,
        redisUrl: config.redisUrl,
        migrations: migrated ? { applied: migrated } : { pending: await pendingMigrations(orm, config) },
        simulator: config.simulator ? SIMULATOR_PREFIX : undefined,
        graphiql: config.playground,
      });
      logger.info({ startup }, msg);
      if (config.simulator) {
        // Its /dev endpoints mint logins for any openid and pay any order: fine on a laptop, fatal if exposed.
        logger.warn(
          { base: simulatorBase() },
          'WeChat simulator mounted in-process (no WECHAT_APPID): WeChat calls go to it, and anyone who can reach this port can log in as any user and pay any order. Never expose it.',
        );
      }
      return url();
    },
    url,
    close() {
      closing ??= (async () => {
        // app.close() stops accepting and waits for in-flight requests; past the bound their sockets are cut.
        // Keep-alive sockets that go idle while draining (a finished request's, or our own calls to the in-process
        // simulator) would otherwise hold close() open until the bound.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
        const cut = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
          clearTimeout(cut);
        }
        await apollo.stop();
        await closeDatabase(orm, config.databaseTimeoutMs, logger);
        await cache.close();
      })();
      return closing;
    },
  };
}

function listenAddress(app: FastifyInstance): string {
  const { address, port } = app.server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * With MIGRATE_ON_START=0, the migrations this database lacks, read without writing (the migrator's own getPending()
 * would create the database and its table); undefined when that table cannot be read (a fresh database, or no rights).
 */
async function pendingMigrations(orm: Orm, config: Config): Promise<string[] | undefined> {
  try {
    const rows = (await orm.em.getConnection().execute('select name from mikro_orm_migrations')) as { name: string }[];
    const done = new Set(rows.map((r) => r.name));
    return migrationsFor(config.database.kind).map((m) => m.name).filter((name) => !done.has(name));
  } catch {
    return undefined;
  }
}
