import { createHash } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { EntityManager } from '@mikro-orm/core';
import type { Orm } from '../core/db';
import { databaseUnavailable } from '../core/db';
import { isAppError } from '../core/errors';
import type { KeyValue } from '../core/kv';
import { parsePushEvent, PUSH_MAX_SKEW_SECONDS, verifyPushQuery, type PushEvent } from '../wechat/push';

/** One event's handler: resolves once the event is handled for good, rejects to have WeChat push it again. */
export type PushHandler = (em: EntityManager, event: PushEvent, log: FastifyBaseLogger) => Promise<void>;

export interface PushRouteParts {
  orm: Orm;
  /** WECHAT_PUSH_TOKEN, as configured in the mini-program's admin console (开发管理 → 消息推送). */
  token: string;
  /** Where seen (timestamp, nonce) pairs are kept: shared across instances when Redis is set. */
  nonces: KeyValue;
  /** By `Event` (or `msg:<MsgType>` for a message that is not an event): later events add an entry. */
  handlers: Readonly<Record<string, PushHandler>>;
}

/** A push body is a small JSON event; anything near this is not one. */
const PUSH_BODY_LIMIT = 64 * 1024;

/** What WeChat expects from a push URL that took the event: anything else (or nothing in 5 s) and it pushes again. */
const TAKEN = 'success';

function refuse(reply: FastifyReply, status: number, text: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(text);
}

/**
 * GET and POST /wechat/push, the mini-program's message push URL in JSON plain mode (明文模式, 数据格式 JSON).
 * Every request carries `signature`, `timestamp` and `nonce`: checked against the token, the timestamp within 5
 * minutes, before anything is read. That signature does not cover the body, so a (timestamp, nonce) pair belongs to
 * the first body seen with it: a captured URL replayed with another body is answered but never handled. Handlers are found by event name;
 * an event without one is taken and logged.
 */
export async function pushRoutes(app: FastifyInstance, { orm, token, nonces, handlers }: PushRouteParts) {
  // The body is read as text whatever its Content-Type (WeChat's varies between modes), in this scope only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: PUSH_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );

  type PushQuery = { signature?: string; timestamp?: string; nonce?: string; echostr?: string; encrypt_type?: string };

  /** The configuration handshake: echostr back, as plain text, only when the signature holds. */
  app.get<{ Querystring: PushQuery }>('/wechat/push', async (req, reply) => {
    const verdict = verifyPushQuery(token, req.query, Math.floor(Date.now() / 1000));
    if (!verdict.ok) {
      req.log.warn({ reason: verdict.reason }, 'push URL handshake refused');
      return refuse(reply, 403, 'signature does not verify');
    }
    const { echostr } = req.query;
    if (typeof echostr !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(echostr))
      return refuse(reply, 400, 'echostr missing or not printable ASCII');
    return reply.type('text/plain; charset=utf-8').send(echostr);
  });

  app.post<{ Querystring: PushQuery; Body: string | undefined }>('/wechat/push', async (req, reply) => {
    const verdict = verifyPushQuery(token, req.query, Math.floor(Date.now() / 1000));
    if (!verdict.ok) {
      req.log.warn({ reason: verdict.reason }, 'push refused: signature');
      return refuse(reply, 403, 'signature does not verify');
    }
    if (req.query.encrypt_type === 'aes')
      return refuse(reply, 400, 'safe mode (encrypt_type=aes) is not supported: choose plain text mode, JSON');
    const event = parsePushEvent(req.body ?? '');
    if (!event) {
      req.log.warn({ bytes: (req.body ?? '').length }, 'push refused: not a JSON event');
      return refuse(reply, 400, 'not a JSON push event (MsgType, Event)');
    }
    const log = req.log.child({ pushEvent: event.event });
    // The first body seen with this (timestamp, nonce) is the push, across instances: the same body again is WeChat
    // pushing again (handled again: handlers are idempotent), another body is a captured URL replayed.
    const digest = createHash('sha256')
      .update(req.body ?? '')
      .digest('base64url');
    let first: string | undefined;
    try {
      first = await nonces.setIfAbsent<string>(
        `push:${verdict.timestamp}:${verdict.nonce}`,
        digest,
        2 * PUSH_MAX_SKEW_SECONDS * 1000 + 1000,
      );
    } catch (err) {
      // The store is down (SERVICE_UNAVAILABLE within CACHE_TIMEOUT_MS): WeChat pushes again later.
      log.error(
        { code: isAppError(err) ? err.code : 'INTERNAL_SERVER_ERROR' },
        'push not handled: the nonce store failed',
      );
      return refuse(reply, 503, 'not handled: push again');
    }
    if (first !== undefined && first !== digest) {
      log.warn('push replayed with another body (its timestamp and nonce came before): answered, not handled');
      return reply.type('text/plain').send(TAKEN);
    }
    const handler = Object.hasOwn(handlers, event.event) ? handlers[event.event] : undefined;
    if (!handler) {
      log.info('push event with no handler: taken');
      return reply.type('text/plain').send(TAKEN);
    }
    try {
      await handler(orm.em.fork(), event, log);
    } catch (err) {
      // WeChat pushes it again, with the same body: that push is handled.
      const known = isAppError(err) ? err : databaseUnavailable(err);
      log.error({ code: known?.code ?? 'INTERNAL_SERVER_ERROR', err: known ? undefined : err }, 'push handler failed');
      return refuse(reply, known?.code === 'SERVICE_UNAVAILABLE' ? 503 : 500, 'not handled: push again');
    }
    return reply.type('text/plain').send(TAKEN);
  });
}
