import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sleepUnlessGone } from './sleep';
import { rid, type SimulatorState } from './state';
import type { StableTokens } from './token.routes';

/** WeChat checks text only for an openid that used the mini-program within 2 hours: here, one that logged in. */
export const VISIT_WINDOW_MS = 2 * 60 * 60 * 1000;
export const CONTENT_MAX = 2500;

/**
 * The simulated check's word list: a text containing one (ASCII case-insensitively) gets its verdict, anything
 * else passes with label 100. docs/simulator.md lists them.
 */
export const RISKY_WORDS: ReadonlyArray<{ word: string; suggest: 'review' | 'risky'; label: number }> = [
  { word: '赌博', suggest: 'risky', label: 20006 },
  { word: '诈骗', suggest: 'risky', label: 20008 },
  { word: '色情', suggest: 'risky', label: 20002 },
  { word: 'riskyword', suggest: 'risky', label: 20012 },
  { word: '加微信', suggest: 'review', label: 10001 },
];

/** A fault a test queues for the next msg_sec_check calls, played one per call before the check. */
export interface ContentFault {
  delayMs?: number;
  /** Answer this errcode instead of a verdict (e.g. -1, 45011). */
  errcode?: number;
  garbage?: boolean;
  httpStatus?: number;
}

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40003: 'invalid openid',
  41001: 'access_token missing',
  42001: 'access_token expired',
  43002: 'require POST method',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  47001: 'data format error',
  61010: 'user access record expired, the user has not visited the mini-program in the last 2 hours',
  87014: 'risky content',
};

function wechatJson(reply: FastifyReply, body: object) {
  return reply.header('content-type', 'application/json; encoding=utf-8').send(JSON.stringify(body));
}

function wechatError(reply: FastifyReply, errcode: number) {
  return wechatJson(reply, { errcode, errmsg: `${ERRMSG[errcode] ?? 'error'} rid: ${rid()}` });
}

function verdictOf(content: string): { suggest: 'pass' | 'review' | 'risky'; label: number; keyword?: string } {
  const lower = content.toLowerCase();
  const hit = RISKY_WORDS.find((w) => lower.includes(w.word));
  return hit ? { suggest: hit.suggest, label: hit.label, keyword: hit.word } : { suggest: 'pass', label: 100 };
}

export interface SimulatorContentOptions {
  tokens: StableTokens;
  state: SimulatorState;
}

/**
 * POST /wxa/msg_sec_check as WeChat serves it (version 2, and version 1's errcode-only answer), the access_token
 * checked like every API's; GET /dev/msg-sec-check counts the calls, POST /dev/msg-sec-check/fault queues faults.
 */
export function registerContentRoutes(app: FastifyInstance, opts: SimulatorContentOptions) {
  const faults: ContentFault[] = [];
  let calls = 0;

  // The body is read as text: WeChat judges the raw UTF-8, and content sent as `\uXXXX` escapes passes whatever it
  // says (WECHAT.md), so the simulator lets it pass too and a client that escapes is caught by its risky words. This
  // scope is the route's own, so the app's and the /dev routes' parsers are untouched.
  app.register(async (wire) => {
    wire.removeAllContentTypeParsers();
    wire.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    wire.post<{ Querystring: { access_token?: string }; Body: string | undefined }>(
      '/wxa/msg_sec_check',
      async (req, reply) => {
        calls += 1;
        const tokenErr = opts.tokens.check(req.query.access_token);
        if (tokenErr) return wechatError(reply, tokenErr);
        const fault = faults.shift();
        if (fault?.delayMs) await sleepUnlessGone(fault.delayMs, reply);
        if (reply.raw.destroyed || req.raw.destroyed) return reply;
        if (fault?.httpStatus)
          return reply.code(fault.httpStatus).type('text/html').send('<html><body>Bad Gateway</body></html>');
        if (fault?.garbage) return reply.type('text/html').send('<html>upstream garbage, not JSON');
        if (fault?.errcode !== undefined) return wechatError(reply, fault.errcode);

        let body: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(req.body ?? '');
          if (typeof parsed !== 'object' || parsed === null) return wechatError(reply, 47001);
          body = parsed as Record<string, unknown>;
        } catch {
          return wechatError(reply, 47001);
        }
        const { content, version, scene, openid } = body;
        if (typeof content !== 'string' || !content || Array.from(content).length > CONTENT_MAX)
          return wechatError(reply, 47001);
        const escaped = /\\u[0-9a-fA-F]{4}/.test(req.body ?? '');
        const verdict: ReturnType<typeof verdictOf> = escaped ? { suggest: 'pass', label: 100 } : verdictOf(content);
        // Version 1: no openid or scene, and risky content is an errcode.
        if (version === undefined || version === 1) {
          return verdict.suggest === 'risky'
            ? wechatError(reply, 87014)
            : wechatJson(reply, { errcode: 0, errmsg: 'ok' });
        }
        if (version !== 2 || typeof scene !== 'number' || ![1, 2, 3, 4].includes(scene))
          return wechatError(reply, 47001);
        if (typeof openid !== 'string' || !openid || !opts.state.user(openid)) return wechatError(reply, 40003);
        if (!opts.state.visitedWithin(openid, VISIT_WINDOW_MS)) return wechatError(reply, 61010);
        const { suggest, label, keyword } = verdict;
        return wechatJson(reply, {
          errcode: 0,
          errmsg: 'ok',
          result: { suggest, label },
          detail: [
            { strategy: 'content_model', errcode: 0, suggest, label, prob: suggest === 'pass' ? 0 : 90 },
            ...(keyword ? [{ strategy: 'keyword', errcode: 0, suggest, label, level: 20, keyword }] : []),
          ],
          trace_id: `${randomBytes(8).toString('hex')}-${rid()}`,
        });
      },
    );
  });
  app.get('/wxa/msg_sec_check', async (_req, reply) => wechatError(reply, 43002));

  /** Developer endpoint: how many msg_sec_check calls arrived (whatever they answered). */
  app.get('/dev/msg-sec-check', async () => ({ calls, faultsQueued: faults.length }));

  /** Developer endpoint: `count` (default 1) next msg_sec_check calls play `fault` instead of checking. */
  app.post<{ Body: (ContentFault & { count?: unknown }) | undefined }>(
    '/dev/msg-sec-check/fault',
    async (req, reply) => {
      const { count = 1, ...fault } = req.body ?? {};
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100)
        return reply.code(400).send({ error: 'count must be an integer from 1 to 100' });
      for (let i = 0; i < count; i += 1) faults.push(fault);
      return { faultsQueued: faults.length };
    },
  );
}
