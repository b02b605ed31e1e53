import type { FastifyReply } from 'fastify';

/**
 * Waits, but not for a caller that hung up. It watches the response, not the request: a POST request's own
 * 'close' fires as soon as its body has been read.
 */
export function sleepUnlessGone(ms: number, reply: FastifyReply): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
