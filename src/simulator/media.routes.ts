import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { pushSignature } from '../wechat/push';
import { rid, type SimulatorState } from './state';
import type { StableTokens } from './token.routes';
import { VISIT_WINDOW_MS } from './content.routes';

/** WeChat downloads at most 10 MB, and gives the download a bound of its own. */
export const MEDIA_MAX_BYTES = 10 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 5000;
/** WeChat waits 5 s for the push URL's `success`, and pushes again (three tries in all). */
const PUSH_TIMEOUT_MS = 5000;
const PUSH_TRIES = 3;
/** An image whose bytes hold this ASCII marker is judged risky (label 20002); any other image passes. */
export const RISKY_IMAGE_MARKER = 'RISKY';

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40003: 'invalid openid',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  47001: 'data format error',
  61010: 'user access record expired, the user has not visited the mini-program in the last 2 hours',
};

interface MediaCheck {
  traceId: string;
  mediaUrl: string;
  openid: string;
  /** Undefined until the image was fetched and judged. */
  verdict?: { suggest: 'pass' | 'risky'; label: number; fetched: boolean };
  pushes: { status: number | null; body: string }[];
}

export interface SimulatorMediaOptions {
  tokens: StableTokens;
  state: SimulatorState;
  appid: string;
  /** The mini-program's message push URL; undefined: results are judged but pushed nowhere. Read per push. */
  pushUrl: () => string | undefined;
  /** The push token configured with it: every push is signed with it. */
  pushToken?: string;
}

function wechatJson(reply: FastifyReply, body: object) {
  return reply.header('content-type', 'application/json; encoding=utf-8').send(JSON.stringify(body));
}

function wechatError(reply: FastifyReply, errcode: number) {
  return wechatJson(reply, { errcode, errmsg: `${ERRMSG[errcode] ?? 'error'} rid: ${rid()}` });
}

/** The image at `url`, or undefined when it cannot be had (refused, not 2xx, too big, too slow). */
async function download(url: string): Promise<Buffer | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    const data = Buffer.from(await res.arrayBuffer());
    return data.length > MEDIA_MAX_BYTES ? undefined : data;
  } catch {
    return undefined;
  }
}

/**
 * POST /wxa/media_check_async as WeChat serves it: the answer (`{errcode: 0, trace_id}`) at once, then the image is
 * fetched from media_url, judged (RISKY_IMAGE_MARKER in its bytes is risky, an image it cannot fetch is risky too)
 * and the result pushed, signed, to the message push URL as a wxa_media_check event, tried up to three times until
 * it answers `success`. Its label alternates between a number and a string, as WeChat's pushes do.
 *
 * /dev/media-check lists the checks; /dev/media-check/hold holds pushes back (a test sees PENDING), and releasing
 * pushes what was held; /dev/media-check/push pushes one check's result again (a duplicate); /dev/media-check/early
 * makes the next submissions push before they answer; /dev/media-check/fault queues errcodes for the next submissions.
 */
export function registerMediaRoutes(app: FastifyInstance, opts: SimulatorMediaOptions) {
  const checks = new Map<string, MediaCheck>();
  const faults: number[] = [];
  const closing = new AbortController();
  const work = new Set<Promise<unknown>>();
  let held = false;
  /** Submissions whose result is pushed before their answer is sent (a push that outruns the trace_id). */
  let early = 0;
  let heldBack: MediaCheck[] = [];
  let calls = 0;
  let pushCount = 0;
  app.addHook('onClose', async () => {
    closing.abort();
    await Promise.allSettled([...work]);
  });
  const track = (p: Promise<unknown>) => {
    work.add(p);
    void p.finally(() => work.delete(p));
  };

  async function pushOnce(check: MediaCheck): Promise<MediaCheck['pushes'][number]> {
    const url = opts.pushUrl();
    if (!url || !opts.pushToken || !check.verdict) return { status: null, body: 'no push URL configured' };
    pushCount += 1;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(randomBytes(4).readUInt32BE());
    const signature = pushSignature(opts.pushToken, timestamp, nonce);
    const { suggest, label } = check.verdict;
    const event = {
      ToUserName: 'gh_0123456789ab',
      FromUserName: check.openid,
      CreateTime: Number(timestamp),
      MsgType: 'event',
      Event: 'wxa_media_check',
      appid: opts.appid,
      trace_id: check.traceId,
      version: 2,
      detail: [{ strategy: 'content_model', errcode: 0, suggest, label, prob: suggest === 'pass' ? 0 : 90 }],
      errcode: 0,
      errmsg: 'ok',
      // WeChat sends the label as a string in some pushes: every other one here does too.
      result: { suggest, label: pushCount % 2 ? String(label) : label },
    };
    const query = new URLSearchParams({ signature, timestamp, nonce });
    try {
      const res = await fetch(`${url}${url.includes('?') ? '&' : '?'}${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.any([AbortSignal.timeout(PUSH_TIMEOUT_MS), closing.signal]),
      });
      return { status: res.status, body: (await res.text()).slice(0, 200) };
    } catch {
      return { status: null, body: 'no answer' };
    }
  }

  async function deliver(check: MediaCheck): Promise<void> {
    for (let attempt = 0; attempt < PUSH_TRIES && !closing.signal.aborted; attempt += 1) {
      const outcome = await pushOnce(check);
      check.pushes.push(outcome);
      if (outcome.status === 200 && outcome.body === 'success') return;
      if (outcome.status === null && outcome.body === 'no push URL configured') return;
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)).unref());
    }
  }

  async function judgeAndPush(check: MediaCheck): Promise<void> {
    const image = await download(check.mediaUrl);
    const risky = !image || image.includes(RISKY_IMAGE_MARKER, 0, 'latin1');
    check.verdict = {
      suggest: risky ? 'risky' : 'pass',
      label: risky ? (image ? 20002 : 21000) : 100,
      fetched: !!image,
    };
    if (held) heldBack.push(check);
    else await deliver(check);
  }

  app.post<{ Querystring: { access_token?: string }; Body: unknown }>('/wxa/media_check_async', async (req, reply) => {
    calls += 1;
    const tokenErr = opts.tokens.check(req.query.access_token);
    if (tokenErr) return wechatError(reply, tokenErr);
    const fault = faults.shift();
    if (fault !== undefined) return wechatError(reply, fault);
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    const { media_url, media_type, version, scene, openid } = body;
    if (typeof media_url !== 'string' || !/^https?:\/\//.test(media_url) || media_type !== 2)
      return wechatError(reply, 47001);
    if (version !== 2 || typeof scene !== 'number' || ![1, 2, 3, 4].includes(scene)) return wechatError(reply, 47001);
    if (typeof openid !== 'string' || !opts.state.user(openid)) return wechatError(reply, 40003);
    if (!opts.state.visitedWithin(openid, VISIT_WINDOW_MS)) return wechatError(reply, 61010);
    const traceId = `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
    const check: MediaCheck = { traceId, mediaUrl: media_url, openid, pushes: [] };
    checks.set(traceId, check);
    if (early > 0) {
      // The race a receiver must survive: the result reaches the push URL before the caller has the trace_id.
      early -= 1;
      await judgeAndPush(check);
    } else {
      // Normally after the answer is sent: the result comes once the image is fetched and judged.
      reply.raw.once('finish', () => track(judgeAndPush(check)));
    }
    return wechatJson(reply, { errcode: 0, errmsg: 'ok', trace_id: traceId });
  });
  app.get('/wxa/media_check_async', async (_req, reply) => wechatError(reply, 43002));

  /** Developer endpoint: every check, its verdict and its pushes. */
  app.get('/dev/media-check', async () => ({
    calls,
    held,
    checks: [...checks.values()].map(({ traceId, mediaUrl, verdict, pushes }) => ({
      traceId,
      mediaUrl,
      verdict,
      pushes,
    })),
  }));

  /** Developer endpoint: `{hold: true}` holds results back; `{hold: false}` pushes every held one, then resumes. */
  app.post<{ Body: { hold?: unknown } | undefined }>('/dev/media-check/hold', async (req, reply) => {
    if (typeof req.body?.hold !== 'boolean') return reply.code(400).send({ error: 'hold must be true or false' });
    held = req.body.hold;
    const released = held ? [] : heldBack;
    if (!held) heldBack = [];
    await Promise.all(released.map((check) => deliver(check)));
    return { held, released: released.map((c) => ({ traceId: c.traceId, pushes: c.pushes })) };
  });

  /** Developer endpoint: the next `count` (default 1) submissions push their result before answering. */
  app.post<{ Body: { count?: unknown } | undefined }>('/dev/media-check/early', async (req, reply) => {
    const { count = 1 } = req.body ?? {};
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 100)
      return reply.code(400).send({ error: 'count must be an integer from 0 to 100' });
    early = count;
    return { early };
  });

  /** Developer endpoint: push one check's result (again) now, once; answers what the push URL said. */
  app.post<{ Body: { traceId?: unknown } | undefined }>('/dev/media-check/push', async (req, reply) => {
    const check = typeof req.body?.traceId === 'string' ? checks.get(req.body.traceId) : undefined;
    if (!check?.verdict) return reply.code(404).send({ error: 'no judged check with that traceId' });
    const outcome = await pushOnce(check);
    check.pushes.push(outcome);
    return outcome;
  });

  /** Developer endpoint: the next `count` (default 1) submissions answer `errcode` (e.g. -1, 45011). */
  app.post<{ Body: { errcode?: unknown; count?: unknown } | undefined }>(
    '/dev/media-check/fault',
    async (req, reply) => {
      const { errcode, count = 1 } = req.body ?? {};
      if (typeof errcode !== 'number' || !Number.isInteger(errcode))
        return reply.code(400).send({ error: 'errcode must be an integer' });
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100)
        return reply.code(400).send({ error: 'count must be an integer from 1 to 100' });
      for (let i = 0; i < count; i += 1) faults.push(errcode);
      return { faultsQueued: faults.length };
    },
  );
}
