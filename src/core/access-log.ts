import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The level of this route's access line (default info). Routes that write a richer line of their own (GraphQL
     * operations, notifies) declare `debug`, so a request is logged once at info.
     */
    accessLog?: 'debug' | 'info';
  }
}

/** One access line per request, at the level its route declares; unrouted requests (404s) log at info. */
export function accessLog(app: FastifyInstance): void {
  // A callback hook: an async one costs Fastify a promise and a microtask turn per request.
  app.addHook('onResponse', (req, reply, done) => {
    const line = {
      method: req.method,
      path: req.url.split('?')[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (req.routeOptions.config?.accessLog === 'debug') req.log.debug(line, 'request');
    else req.log.info(line, 'request');
    done();
  });
}
