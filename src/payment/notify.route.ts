import type { FastifyInstance } from 'fastify';
import type { Orm } from '../core/db';
import type { Logger } from 'pino';
import { notifyFail } from '../wechat/pay-xml';
import { NOTIFY_BODY_CAP, type NotifyService, type RawNotify } from './notify.service';
import { v3FailBody, type V3NotifyService } from './notify-v3.service';

export interface NotifyRouteOptions {
  orm: Orm;
  notify: NotifyService;
  /** POST /notify/refund's judge (the same raw body handling): undefined, the route is not there. */
  refundNotify?: { handle: NotifyService['handle'] };
  /** POST /notify/v3's judge (WeChat Pay v3's pay and refund results): undefined, the route is not there. */
  v3Notify?: V3NotifyService;
  logger: Logger;
  /** DATABASE_TIMEOUT_MS: bounds every statement, so a row older than ten of them is no longer being worked on. */
  databaseTimeoutMs: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * Settles rows a crash or a long database outage left RECEIVED: at start, then every minute. A row is left alone
 * until no notify could still be working on it (every statement is bounded by DATABASE_TIMEOUT_MS).
 */
async function sweepStranded({ orm, notify, logger, databaseTimeoutMs }: NotifyRouteOptions): Promise<void> {
  const graceMs = Math.max(60_000, 10 * databaseTimeoutMs);
  try {
    const settled = await notify.settleStranded(orm.em.fork(), new Date(Date.now() - graceMs));
    if (settled) logger.warn({ settled }, 'notifies left RECEIVED marked ERROR');
  } catch (err) {
    logger.warn({ cause: String((err as Error).message).slice(0, 200) }, 'sweep of RECEIVED notifies failed');
  }
}

/**
 * POST /notify, WeChat Pay's result callback. Registered in its own scope so no JSON parser ever touches the body:
 * every content type is read raw, up to the cap, and handed over as the exact string WeChat sent.
 */
export async function notifyRoutes(app: FastifyInstance, opts: NotifyRouteOptions) {
  await sweepStranded(opts);
  const sweep = setInterval(() => void sweepStranded(opts), SWEEP_EVERY_MS).unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req, payload, done) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let finished = false;
    // The size recorded is what arrived: a declared Content-Length is only the sender's claim (2^31 once made the
    // insert overflow and lost the row).
    const finish = (truncated: boolean, incomplete = false) => {
      if (finished) return;
      finished = true;
      const text = Buffer.concat(chunks).subarray(0, NOTIFY_BODY_CAP).toString('utf8');
      done(null, { text, bytes, truncated, incomplete } satisfies RawNotify);
    };
    payload.on('data', (chunk: Buffer) => {
      if (finished) return;
      bytes += chunk.length;
      chunks.push(chunk);
      // Stop reading at the cap; what came so far is kept, the rest is never buffered.
      if (bytes > NOTIFY_BODY_CAP) finish(true);
    });
    payload.on('end', () => finish(false));
    // The sender went away mid-body: what came is still kept (and judged INCOMPLETE), though nobody hears the answer.
    payload.on('error', () => finish(false, true));
  });

  const route = (url: string, handler: Pick<NotifyService, 'handle'>) =>
    // Each notify writes its own, richer line (notify.service.ts): the access line is debug.
    app.post(url, { config: { accessLog: 'debug' } }, async (req, reply) => {
      const raw = (req.body as RawNotify | undefined) ?? { text: '', bytes: 0, truncated: false };
      try {
        const outcome = await handler.handle(opts.orm.em.fork(), raw);
        if (raw.truncated) reply.header('connection', 'close');
        return reply.code(outcome.httpStatus).type('text/xml').send(outcome.body);
      } catch (err) {
        req.log.error({ err }, 'notify failed');
        // WeChat retries anything but SUCCESS, so a transient failure here loses nothing.
        return reply.code(500).type('text/xml').send(notifyFail('temporary failure, retry'));
      }
    });
  route('/notify', opts.notify);
  if (opts.refundNotify) route('/notify/refund', opts.refundNotify);
  const v3 = opts.v3Notify;
  if (v3) {
    app.post('/notify/v3', { config: { accessLog: 'debug' } }, async (req, reply) => {
      const raw = (req.body as RawNotify | undefined) ?? { text: '', bytes: 0, truncated: false };
      const header = (name: string) => {
        const value = req.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      try {
        const outcome = await v3.handle(opts.orm.em.fork(), raw, {
          timestamp: header('wechatpay-timestamp'),
          nonce: header('wechatpay-nonce'),
          signature: header('wechatpay-signature'),
          serial: header('wechatpay-serial'),
        });
        if (raw.truncated) reply.header('connection', 'close');
        if (outcome.httpStatus === 204) return reply.code(204).send();
        return reply.code(outcome.httpStatus).type('application/json').send(outcome.body);
      } catch (err) {
        req.log.error({ err }, 'v3 notify failed');
        return reply.code(500).type('application/json').send(v3FailBody('temporary failure, retry'));
      }
    });
  }
}
