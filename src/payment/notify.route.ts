import type { FastifyInstance } from 'fastify';
import type { Orm } from '../core/db';
import type { Services } from '../core/context';
import { notifyFail } from '../wechat/pay-xml';
import { handleNotify, NOTIFY_BODY_CAP, type RawNotify } from './notify.service';

/**
 * POST /notify, WeChat Pay's result callback. Registered in its own scope so no JSON parser ever touches the body:
 * every content type is read raw, up to the cap, and handed over as the exact string WeChat sent.
 */
export async function notifyRoutes(app: FastifyInstance, opts: { orm: Orm; services: Services }) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req, payload, done) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let finished = false;
    const finish = (truncated: boolean) => {
      if (finished) return;
      finished = true;
      const text = Buffer.concat(chunks).subarray(0, NOTIFY_BODY_CAP).toString('utf8');
      const declared = Number(req.headers['content-length']);
      done(null, { text, bytes: Number.isFinite(declared) && declared > bytes ? declared : bytes, truncated } satisfies RawNotify);
    };
    payload.on('data', (chunk: Buffer) => {
      if (finished) return;
      bytes += chunk.length;
      chunks.push(chunk);
      // Stop reading at the cap; what came so far is kept, the rest is never buffered.
      if (bytes > NOTIFY_BODY_CAP) finish(true);
    });
    payload.on('end', () => finish(false));
    payload.on('error', (err) => {
      if (!finished) {
        finished = true;
        done(err, undefined);
      }
    });
  });

  app.post('/notify', async (req, reply) => {
    const raw = (req.body as RawNotify | undefined) ?? { text: '', bytes: 0, truncated: false };
    try {
      const outcome = await handleNotify(opts.services, opts.orm.em.fork(), raw);
      if (raw.truncated) reply.header('connection', 'close');
      return reply.code(outcome.httpStatus).type('text/xml').send(outcome.body);
    } catch (err) {
      req.log.error({ err }, 'notify failed');
      // WeChat retries anything but SUCCESS, so a transient failure here loses nothing.
      return reply.code(500).type('text/xml').send(notifyFail('temporary failure, retry'));
    }
  });
}
