import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ApolloServer } from '@apollo/server';
import type { Logger } from 'pino';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { loadPlatformKey, loadV3Merchant, type V3Merchant } from './wechat/v3/keys';
import { createPlatformCertificates, type PlatformCertificates } from './wechat/v3/certificates';
import { join } from 'node:path';
import { readConfigFile, type Config } from './core/config';
import { createCache, type Cache } from './core/cache';
import { createKeyValueStore, type KeyValueStore } from './core/kv';
import { closeDatabase, openDatabase, pendingMigrations, type Orm } from './core/db';
import { createLogger } from './core/logger';
import { notifyRoutes } from './payment/notify.route';
import { avatarRoutes } from './avatar/avatar.route';
import { pushRoutes } from './push/push.route';
import { simulatorPlugin } from './simulator/simulator.plugin';
import { createMetrics, type Metrics } from './ops/metrics';
import type { PayClient } from './wechat/pay.client';
import { metricsAccess, opsRoutes } from './ops/ops.routes';
import { startupSummary } from './ops/startup-summary';
import type { Context, Services } from './server/context';
import { dataModel } from './server/data-model';
import { mountGraphQL } from './server/graphql-route';
import { createHttpServer } from './server/http';
import { buildServices } from './server/services';
import { createSweeper, type Sweeper } from './sweeper/sweeper';

export interface AppOptions {
  /** Defaults to a pino logger on stdout at config.logLevel. */
  logger?: Logger;
}

export interface App {
  app: FastifyInstance;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  orm: Orm;
  cache: Cache;
  /** What resolvers reach through their context. */
  services: Services;
  /** WeChat Pay's client; undefined when payments are not configured. */
  wechatPay?: PayClient;
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

/**
 * The composition root: the database and the store, the HTTP server, the simulator when WeChat is simulated, the
 * services, then every route. Each step is a function of its own (src/server/).
 */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel, undefined, config.logFormat);
  const database = await openDatabase(config.database, dataModel, config.migrateOnStart, config.databaseTimeoutMs);
  const { orm } = database;
  const cache = createCache({
    redisUrl: config.redisUrl,
    redisClusterNodes: config.redisClusterNodes,
    namespace: config.redisNamespace,
    timeoutMs: config.cacheTimeoutMs,
    logger,
  });
  const kv = createKeyValueStore({
    redisUrl: config.redisUrl,
    redisClusterNodes: config.redisClusterNodes,
    namespace: config.redisNamespace,
    timeoutMs: config.cacheTimeoutMs,
    logger,
  });
  try {
    return await assemble(config, logger, database, cache, kv);
  } catch (err) {
    // A start step failed after the database and the stores opened: close them, or they hold the process open.
    await Promise.allSettled([closeDatabase(orm, config.databaseTimeoutMs, logger), cache.close(), kv.close()]);
    throw err;
  }
}

/** Everything after the database and the stores: the HTTP server, the simulator, the services and every route. */
async function assemble(
  config: Config,
  logger: Logger,
  database: Awaited<ReturnType<typeof openDatabase>>,
  cache: Cache,
  kv: KeyValueStore,
): Promise<App> {
  const metrics = createMetrics();
  const app = createHttpServer(config, logger);
  try {
    return await mountAll(app, config, logger, database, cache, kv, metrics);
  } catch (err) {
    // Plugins may already listen (the simulator's HTTPS port) or hold timers (the notify sweep).
    await app.close().catch(() => undefined);
    throw err;
  }
}

async function mountAll(
  app: FastifyInstance,
  config: Config,
  logger: Logger,
  database: Awaited<ReturnType<typeof openDatabase>>,
  cache: Cache,
  kv: KeyValueStore,
  metrics: Metrics,
): Promise<App> {
  const { orm } = database;
  const url = () => selfUrl(app);
  // The simulator's HTTPS pay API (for /secapi refunds) listens on a port of its own when SIMULATOR_TLS_DIR is set.
  const simulatorHttps: { base?: string } = {};
  const v3 = v3Keys(config, logger);
  if (config.simulator) await mountSimulator(app, config, simulatorHttps, v3);
  const { services, notify, wechatPay, payApi, refundNotify, v3Notify, avatars, push } = buildServices(config, {
    logger,
    cache,
    kv,
    metrics,
    selfUrl: url,
    simulatorPrefix: SIMULATOR_PREFIX,
    simulatorHttpsBase: () => simulatorHttps.base,
    v3Parts: v3 && {
      merchant: v3.merchant,
      platformKeys: v3.keys,
      ...(v3.certificates ? { onUnknownSerial: v3.certificates.onUnknownSerial } : {}),
    },
  });
  const apollo = await mountGraphQL(app, config, { orm, services, metrics });
  await app.register(notifyRoutes, {
    orm,
    notify,
    refundNotify,
    v3Notify,
    logger,
    databaseTimeoutMs: config.databaseTimeoutMs,
  });
  await app.register(avatarRoutes, { orm, sessions: services.sessions, avatars });
  // Started once the server listens (the in-process simulator answers only then), stopped before the database closes.
  const sweeper =
    services.payments && payApi && config.pay
      ? createSweeper({
          orm,
          pay: payApi,
          payments: services.payments,
          refunds: services.refunds,
          settings: { ...config.sweep, orderTtlSeconds: config.pay.orderTtlSeconds },
          metrics,
          logger,
        })
      : undefined;
  if (push) await app.register(pushRoutes, { orm, nonces: kv.for('push'), ...push });
  await app.register(opsRoutes, {
    orm,
    cache,
    kv,
    metrics,
    metricsAccess: metricsAccess(config),
    databaseTimeoutMs: config.databaseTimeoutMs,
  });

  return {
    app,
    config,
    logger,
    metrics,
    orm,
    cache,
    services,
    wechatPay,
    listen: async () => {
      const base = await listen(app, config, logger, database);
      sweeper?.start();
      // Payments made before the first download finishes wait for it (the client's unknown-serial path).
      v3?.certificates?.start();
      return base;
    },
    url,
    close: closer(app, config, logger, { apollo, orm, cache, kv, sweeper, wechatPay, certificates: v3?.certificates }),
  };
}

/** The WeChat simulator under SIMULATOR_PREFIX, with this server's identity, for a server without a real AppID. */
async function mountSimulator(
  app: FastifyInstance,
  config: Config,
  https: { base?: string },
  v3: V3Keys | undefined,
): Promise<void> {
  await app.register(simulatorPlugin, {
    prefix: SIMULATOR_PREFIX,
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    // Simulator mode always configures payments (core/config.ts).
    mchId: config.pay!.mchId,
    payKey: config.pay!.key,
    xmlLayout: config.simulatorXmlLayout,
    // Where WeChat would push: this server's own push URL, once it listens.
    pushUrl: () => config.simulatorPushUrl ?? `${selfUrl(app)}/wechat/push`,
    pushToken: config.wechat.pushToken,
    ...(config.simulatorTlsDir
      ? { tls: simulatorTls(config.simulatorTlsDir), onHttps: (base: string) => (https.base = base) }
      : {}),
    // v3: the simulator checks requests with the merchant's public key and makes its own WeChat Pay key pair.
    ...(v3 && config.pay?.v3
      ? {
          v3: {
            mchPublicKey: v3.merchant.publicKeyPem,
            mchSerial: config.pay.v3.mchSerial,
            apiV3Key: config.pay.v3.apiV3Key,
          },
          onV3Platform: ({ publicKeyPem, publicKeyId }: { publicKeyPem: string; publicKeyId: string }) =>
            v3.platformKeys.set(publicKeyId, createPublicKey(publicKeyPem)),
        }
      : {}),
  });
}

interface V3Keys {
  merchant: V3Merchant;
  /** WeChat Pay's public keys by id: the configured one, or the in-process simulator's once it made it. */
  platformKeys: Map<string, KeyObject>;
  /** Certificate mode: the platform certificates downloaded from GET /v3/certificates. */
  certificates?: PlatformCertificates;
  /** What verifies an answer or notify: the public key (if any) and the valid certificates, by Wechatpay-Serial. */
  keys: () => ReadonlyMap<string, KeyObject>;
}

/** WECHAT_PAY_API=v3's keys, read (or, under the simulator, made) once at start. */
function v3Keys(config: Config, logger: Logger): V3Keys | undefined {
  const pay = config.pay;
  const v3 = pay?.api === 'v3' ? pay.v3 : undefined;
  if (!pay || !v3) return undefined;
  const merchant = loadV3Merchant(v3.privateKeyPath);
  const platformKeys =
    v3.publicKeyPath && v3.publicKeyId
      ? loadPlatformKey(v3.publicKeyPath, v3.publicKeyId)
      : new Map<string, KeyObject>();
  // Certificate mode has a real WeChat Pay base: the in-process simulator (no base) is always public-key mode.
  const apiBase = pay.apiBase;
  const certificates =
    v3.platformCertificates && apiBase
      ? createPlatformCertificates({
          apiBase: () => apiBase,
          mchId: pay.mchId,
          mchSerial: v3.mchSerial,
          privateKey: merchant.privateKey,
          apiV3Key: v3.apiV3Key,
          timeoutMs: config.wechat.timeoutMs,
          logger,
          otherKeys: () => platformKeys,
          retryMs: v3.certificatesRetrySeconds * 1000,
        })
      : undefined;
  const keys = certificates ? () => new Map([...platformKeys, ...certificates.keys()]) : () => platformKeys;
  return { merchant, platformKeys, certificates, keys };
}

/** SIMULATOR_TLS_DIR's test CA and the simulator's certificate for its HTTPS port (test/support/test-ca.ts makes them). */
function simulatorTls(dir: string): { cert: string; key: string; ca: string } {
  // The directory holds ca.pem, server.pem and server-key.pem (test/support/test-ca.ts makes them).
  const read = (name: string) => readConfigFile('SIMULATOR_TLS_DIR', join(dir, name));
  return { cert: read('server.pem'), key: read('server-key.pem'), ca: read('ca.pem') };
}

function selfUrl(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo | null;
  if (!address) throw new Error('server is not listening yet');
  return `http://127.0.0.1:${address.port}`;
}

/** Listens, then says in one line where, on what data, with which migrations, and where GraphiQL and the simulator are. */
async function listen(
  app: FastifyInstance,
  config: Config,
  logger: Logger,
  { orm, migrated, serverVersion }: Awaited<ReturnType<typeof openDatabase>>,
): Promise<string> {
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
    baseUrl: selfUrl(app),
    database: config.database,
    databaseVersion: serverVersion,
    redisUrl: config.redisUrl,
    redisClusterNodes: config.redisClusterNodes,
    migrations: migrated
      ? { applied: migrated }
      : { pending: await pendingMigrations(orm, dataModel.migrationsFor(config.database.kind)) },
    simulator: config.simulator ? SIMULATOR_PREFIX : undefined,
    graphiql: config.playground,
  });
  logger.info({ startup }, msg);
  if (config.simulator) {
    // Its /dev endpoints mint logins for any openid and pay any order: fine on a laptop, fatal if exposed.
    logger.warn(
      { base: `${selfUrl(app)}${SIMULATOR_PREFIX}` },
      'WeChat simulator mounted in-process (no WECHAT_APPID): WeChat calls go to it, and anyone who can reach this port can log in as any user and pay any order. Never expose it.',
    );
  }
  return selfUrl(app);
}

/** close(), once however often it is called: drain HTTP within the bound, then Apollo, the database and the store. */
function closer(
  app: FastifyInstance,
  config: Config,
  logger: Logger,
  {
    apollo,
    orm,
    cache,
    kv,
    sweeper,
    wechatPay,
    certificates,
  }: {
    apollo: ApolloServer<Context>;
    orm: Orm;
    cache: Cache;
    kv: KeyValueStore;
    sweeper?: Sweeper;
    wechatPay?: PayClient;
    certificates?: PlatformCertificates;
  },
): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
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
      await sweeper?.stop();
      certificates?.stop();
      wechatPay?.close();
      await apollo.stop();
      await closeDatabase(orm, config.databaseTimeoutMs, logger);
      await Promise.all([cache.close(), kv.close()]);
    })();
    return closing;
  };
}

function listenAddress(app: FastifyInstance): string {
  const { address, port } = app.server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
