import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../core/config';
import { accessLog } from '../core/access-log';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
/** Slow headers are the cheapest way to hold a connection (slowloris); real clients send them in one packet. */
const HEADERS_TIMEOUT_MS = 10_000;

/** The Fastify instance with this server's bounds, request ids and access log; no routes yet. */
export function createHttpServer(config: Config, logger: Logger): FastifyInstance {
  // Typed as Fastify's base logger, so the instance is the plain FastifyInstance every plugin and route takes.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
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
    // One access line per request is written by accessLog; Fastify's two default lines would double the logging cost.
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's X-Request-Id is kept when it is tame, so logs can be joined across services.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  // Callback hooks, not async ones: Fastify wraps an async hook's promise, a microtask turn per request.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    done(null, payload);
  });
  accessLog(app);
  return app;
}
