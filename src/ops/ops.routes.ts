import type { FastifyInstance } from 'fastify';
import type { Cache } from '../core/cache';
import type { Orm } from '../core/db';
import type { Metrics } from './metrics';

export interface OpsOptions {
  orm: Orm;
  cache: Cache;
  metrics: Metrics;
}

/**
 * /healthz is liveness: 200 once the database and the store have each answered since start, and from then on
 * without touching them (a Redis blip must not get the process restarted). /readyz is readiness: both checked now.
 */
export async function opsRoutes(app: FastifyInstance, { orm, cache, metrics }: OpsOptions) {
  const check = async () => {
    const [db, store] = (await Promise.allSettled([orm.em.getConnection().execute('select 1'), cache.ping()])).map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
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

  app.get('/metrics', async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
