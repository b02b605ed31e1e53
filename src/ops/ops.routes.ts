import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config';
import type { Cache } from '../core/cache';
import type { KeyValueStore } from '../core/kv';
import { pingDatabase, type Orm } from '../core/db';
import type { Metrics } from './metrics';
import { withTimeout } from '../core/timeout';

export interface OpsOptions {
  orm: Orm;
  cache: Cache;
  kv: KeyValueStore;
  metrics: Metrics;
  metricsAccess: MetricsAccess;
  /** DATABASE_TIMEOUT_MS: the readiness check waits at most this, and never more than READY_CHECK_MAX_MS. */
  databaseTimeoutMs: number;
}

/** A probe must answer before the orchestrator's own probe timeout (often 1–5 s), whatever the database does. */
const READY_CHECK_MAX_MS = 2000;

/** Who may read /metrics: anyone (development), holders of METRICS_TOKEN, or nobody (production without a token). */
export type MetricsAccess = { kind: 'open' } | { kind: 'off' } | { kind: 'token'; token: string };

export function metricsAccess(config: Pick<Config, 'env' | 'metricsToken'>): MetricsAccess {
  if (config.env !== 'production') return { kind: 'open' };
  return config.metricsToken ? { kind: 'token', token: config.metricsToken } : { kind: 'off' };
}

/** Compares digests, so neither the token's bytes nor its length show in the timing. */
function sameToken(given: string, expected: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * /healthz is liveness: 200 once the database and the store have each answered since start, and from then on
 * without touching them (a Redis blip must not get the process restarted). /readyz is readiness: both checked now.
 */
export async function opsRoutes(
  app: FastifyInstance,
  { orm, cache, kv, metrics, metricsAccess: access, databaseTimeoutMs }: OpsOptions,
) {
  const bound = Math.min(databaseTimeoutMs, READY_CHECK_MAX_MS);
  const unanswered = () => new Error(`no answer within ${bound} ms`);
  const check = async () => {
    // `store` is Redis (or the in-process stores): the sessions' connection and the key-value store's, both.
    const probes = [pingDatabase(orm), Promise.all([cache.ping(), kv.ping()]).then(() => undefined)].map((p) =>
      withTimeout(p, bound, unanswered),
    );
    const [db, store] = (await Promise.allSettled(probes)).map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    return { db, store, ok: db === 'ok' && store === 'ok' };
  };
  let live = false;

  app.get('/healthz', async (_req, reply) => {
    if (!live) {
      const { db, store, ok } = await check();
      if (!ok) return reply.code(503).send({ status: 'starting', database: db, store });
      live = true;
    }
    return { status: 'ok' };
  });

  app.get('/readyz', async (_req, reply) => {
    const { db, store, ok } = await check();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database: db, store });
  });

  // Off: not routed at all, so a stranger gets the same 404 as for any unknown path.
  if (access.kind !== 'off') {
    app.get('/metrics', async (req, reply) => {
      if (access.kind === 'token') {
        const given = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (!given || !sameToken(given, access.token)) {
          return reply
            .code(401)
            .header('www-authenticate', 'Bearer')
            .send({ message: 'Unauthorized', error: 'Unauthorized', statusCode: 401 });
        }
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }
}
