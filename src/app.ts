import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { Logger } from 'pino';
import type { Config } from './core/config';
import { createCache, type Cache } from './core/cache';
import { openDatabase, type Orm } from './core/db';
import { buildAppSchema, errorLogPlugin, formatError } from './core/graphql';
import { createLogger } from './core/logger';
import type { Context, Services } from './core/context';
import { bearerToken, createSessionStore } from './auth/session';
import { createLoginClient } from './wechat/login.client';
import { createPayClient } from './wechat/pay.client';
import { notifyRoutes } from './payment/notify.route';
import { simulatorPlugin } from './simulator/simulator.plugin';

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
  /** Stops accepting, lets in-flight requests finish, then closes the database and the store. */
  close(): Promise<void>;
}

export const SIMULATOR_PREFIX = '/simulator';

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const orm = await openDatabase(config.database, config.migrateOnStart);
  const cache = createCache({ redisUrl: config.redisUrl, timeoutMs: config.cacheTimeoutMs, logger });

  // trustProxy: only then is X-Forwarded-For believed for the client IP sent to WeChat Pay.
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, trustProxy: config.trustProxy });

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
    });
  }
  const wechatApiBase = () => config.wechat.apiBase ?? `${url()}${SIMULATOR_PREFIX}`;
  const pay = config.pay;

  const services: Services = {
    config,
    logger,
    sessions: createSessionStore(cache, config.sessionTtlSeconds),
    wechatLogin: createLoginClient({
      apiBase: wechatApiBase,
      appid: config.wechat.appid,
      secret: config.wechat.secret,
      timeoutMs: config.wechat.timeoutMs,
    }),
    wechatPay: pay
      ? createPayClient({
          apiBase: () => pay.apiBase ?? `${url()}${SIMULATOR_PREFIX}`,
          appid: config.wechat.appid,
          mchId: pay.mchId,
          key: pay.key,
          signType: pay.signType,
          timeoutMs: config.wechat.timeoutMs,
        })
      : undefined,
    notifyUrl: () => pay?.notifyUrl ?? `${url()}/notify`,
  };

  const apollo = new ApolloServer<Context>({
    schema: await buildAppSchema(),
    formatError,
    includeStacktraceInErrorResponses: false,
    plugins: [fastifyApolloDrainPlugin(app), ApolloServerPluginLandingPageDisabled(), errorLogPlugin],
  });
  await apollo.start();

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
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
  });

  await app.register(notifyRoutes, { orm, services });

  app.get('/healthz', async (_req, reply) => {
    const checks = await Promise.allSettled([orm.em.getConnection().execute('select 1'), cache.ping()]);
    const [db, store] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ok = db === 'ok' && store === 'ok';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database: db, store });
  });

  let closing: Promise<void> | undefined;
  return {
    app,
    orm,
    cache,
    services,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      if (config.simulator) logger.info({ base: wechatApiBase() }, 'WeChat simulator mounted in-process; WeChat API calls go to it');
      return url();
    },
    url,
    close() {
      // apollo.stop() drains through fastifyApolloDrainPlugin, which closes Fastify itself; calling
      // apollo.stop() from a Fastify onClose hook instead would wait on itself forever.
      closing ??= (async () => {
        await apollo.stop();
        await orm.close();
        await cache.close();
      })();
      return closing;
    },
  };
}
