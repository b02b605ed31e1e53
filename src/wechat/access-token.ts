import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../core/errors';
import type { KeyValue } from '../core/kv';
import type { Metrics } from '../ops/metrics';
import { callWeChat, observed, readWeChatJson } from './http';

const API = 'stable_token';

/** What an API answers for an access_token that is not the latest (40001), is invalid (40014) or has expired (42001). */
export const TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/**
 * Whether a call failed because WeChat refused its access_token. API clients signal it the way the login client
 * reports errcodes: an AppError with `extensions.wechatErrcode`.
 */
export function isTokenRejected(err: unknown): boolean {
  const errcode = (err as { extensions?: { wechatErrcode?: unknown } } | undefined)?.extensions?.wechatErrcode;
  return typeof errcode === 'number' && TOKEN_REJECTED_ERRCODES.has(errcode);
}

export interface AccessTokenDeps {
  /** The shared store (`kv.for('access-token')`): Redis when REDIS_URL is set, so every instance shares one token. */
  kv: KeyValue;
  /** e.g. https://api.weixin.qq.com, or the simulator's base. Read per call: the simulator's is known only after listen. */
  apiBase: () => string;
  appid: string;
  secret: string;
  /** WECHAT_TIMEOUT_MS: the bound of one stable_token call. */
  timeoutMs: number;
  metrics?: Pick<Metrics, 'accessTokenFetches' | 'wechatCalls'>;
  logger: Logger;
  /** How long before its expiry a token is replaced; under WeChat's 5-minute rotation window, so a refresh gets the new one. */
  refreshAheadMs?: number;
  /** stable_token calls per fetch when WeChat answers -1 (busy), with a doubling backoff from `backoffMs`. */
  maxAttempts?: number;
  backoffMs?: number;
  /** How often an instance waiting on another's refresh looks for its result. */
  pollMs?: number;
  /** The clock a token's lifetime is judged by (tests move it); waits always use real time. */
  now?: () => number;
}

export interface AccessTokenManager {
  /**
   * Runs `call` with the current access_token. When the call fails because WeChat refused the token
   * (isTokenRejected), the token is dropped from the shared store if it is still the cached one, a new one is
   * fetched, and the call runs once more. The token is for the call's request only: never log it or answer it.
   */
  withToken<T>(call: (accessToken: string) => Promise<T>): Promise<T>;
}

/** What the shared store holds under `stable-token:<appid>`. Times are epoch ms on the clock of the instance that fetched. */
interface CachedToken {
  token: string;
  expiresAt: number;
  refreshAt: number;
}

/** Written by a refresher whose fetch failed, so the instances waiting on it answer at once instead of each trying in turn. */
interface FetchFailure {
  id: string;
  wechatErrcode?: number;
}

/** After a refresh ahead of expiry failed, the current token is used this long before another try. */
const AHEAD_RETRY_MS = 5000;

/**
 * One access_token for every instance, from POST /cgi-bin/stable_token (never GET /cgi-bin/token, which knocks the
 * other instances' token out). It is cached with its expiry in the shared store and replaced ahead of expiry. One
 * instance refreshes at a time (the store's lock, released by compare-and-delete) and one caller per process
 * (single flight); the others poll the shared value, for a bounded time.
 */
export function createAccessTokenManager(deps: AccessTokenDeps): AccessTokenManager {
  const { kv, logger } = deps;
  const now = deps.now ?? Date.now;
  const refreshAheadMs = deps.refreshAheadMs ?? 4 * 60 * 1000;
  const maxAttempts = deps.maxAttempts ?? 3;
  const backoffMs = deps.backoffMs ?? 100;
  const pollMs = deps.pollMs ?? 50;
  // The refresher's longest run (every attempt timing out, the backoffs) with room for the store's round trips: a
  // holder that dies frees the lock after it, and a waiter gives up just after a live holder must have finished.
  const lockTtlMs = maxAttempts * deps.timeoutMs + backoffMs * 2 ** maxAttempts + 2000;
  const waitMs = lockTtlMs + pollMs;
  const key = `stable-token:${deps.appid}`;
  const failureKey = `stable-token-failure:${deps.appid}`;

  let flight: Promise<string> | undefined;
  let ahead: Promise<void> | undefined;
  let aheadRetryAt = 0;

  async function read(): Promise<CachedToken | undefined> {
    const cached = await kv.get<CachedToken>(key);
    const ok =
      cached &&
      typeof cached.token === 'string' &&
      typeof cached.expiresAt === 'number' &&
      typeof cached.refreshAt === 'number';
    return ok ? cached : undefined;
  }

  /** The cached token if it still works and is not the one the caller saw rejected. */
  const usable = (cached: CachedToken | undefined, stale: string | undefined): string | undefined =>
    cached !== undefined && cached.token !== stale && now() < cached.expiresAt ? cached.token : undefined;

  async function fetchOnce(): Promise<CachedToken> {
    const startedAt = now();
    // force_refresh stays false: it kills the token every instance holds, and is allowed 20 times a day.
    const body = JSON.stringify({
      grant_type: 'client_credential',
      appid: deps.appid,
      secret: deps.secret,
      force_refresh: false,
    });
    const onCall = deps.metrics && ((api: string, outcome: string) => deps.metrics!.wechatCalls.inc({ api, outcome }));
    try {
      const answer = await observed(API, onCall, async () => {
        const res = await callWeChat(
          `${deps.apiBase()}/cgi-bin/stable_token`,
          { method: 'POST', headers: { 'content-type': 'application/json' }, body },
          deps.timeoutMs,
          API,
        );
        return parseStableToken(res.status, res.text);
      });
      deps.metrics?.accessTokenFetches.inc({ outcome: 'ok' });
      const lifetimeMs = answer.expiresIn * 1000;
      // A token handed out in its last minutes (WeChat gives the current one until it rotates) is used for half of
      // what is left, so a refresh never spins on it.
      const freshForMs = lifetimeMs > 2 * refreshAheadMs ? lifetimeMs - refreshAheadMs : lifetimeMs / 2;
      logger.info({ api: API, expiresIn: answer.expiresIn }, 'access_token fetched');
      return { token: answer.accessToken, expiresAt: startedAt + lifetimeMs, refreshAt: startedAt + freshForMs };
    } catch (err) {
      deps.metrics?.accessTokenFetches.inc({ outcome: (err as AppError).code ?? 'error' });
      throw err;
    }
  }

  async function fetchWithRetry(): Promise<CachedToken> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fetchOnce();
      } catch (err) {
        const busy = (err as AppError).extensions?.wechatErrcode === -1;
        logger.warn(
          {
            api: API,
            code: (err as AppError).code,
            wechatErrcode: (err as AppError).extensions?.wechatErrcode,
            attempt,
          },
          'access_token fetch failed',
        );
        if (!busy || attempt >= maxAttempts) throw err;
        await sleep(backoffMs * 2 ** (attempt - 1) * (1 + Math.random() / 2));
      }
    }
  }

  /** Stores a fetched token; the store's TTL is its lifetime, the refresh time travels inside. */
  async function store(fresh: CachedToken) {
    await kv.set(key, fresh, Math.max(1, fresh.expiresAt - now()));
  }

  /** Under the lock: every writer holds it, so the compare before the delete cannot race another refresher. */
  async function refreshUnderLock(stale: string | undefined): Promise<string> {
    const cached = await read();
    const current = usable(cached, stale);
    if (current) return current;
    // Dropped only if it is still the token the caller saw rejected: a newer one another instance stored stays.
    if (cached && stale !== undefined && cached.token === stale) await kv.delete(key);
    let fresh: CachedToken;
    try {
      fresh = await fetchWithRetry();
    } catch (err) {
      const failure: FetchFailure = {
        id: randomBytes(8).toString('hex'),
        wechatErrcode: (err as AppError).extensions?.wechatErrcode as number | undefined,
      };
      await kv.set(failureKey, failure, lockTtlMs).catch(() => undefined);
      throw err;
    }
    await store(fresh);
    return fresh.token;
  }

  async function runFlight(stale: string | undefined): Promise<string> {
    const deadline = Date.now() + waitMs;
    const failureBefore = (await kv.get<FetchFailure>(failureKey))?.id;
    for (;;) {
      const current = usable(await read(), stale);
      if (current) return current;
      const lock = await kv.acquire(key, lockTtlMs);
      if (lock) {
        try {
          return await refreshUnderLock(stale);
        } finally {
          await kv
            .release(key, lock)
            .catch((err: unknown) =>
              logger.warn(
                { api: API, code: (err as AppError).code },
                'access_token lock release failed; it ends at its TTL',
              ),
            );
        }
      }
      // Another instance is refreshing: its token, or its failure, is what this one answers.
      const failure = await kv.get<FetchFailure>(failureKey);
      if (failure && failure.id !== failureBefore) {
        throw new AppError(
          'WECHAT_UNAVAILABLE',
          undefined,
          { api: API, ...(failure.wechatErrcode !== undefined ? { wechatErrcode: failure.wechatErrcode } : {}) },
          { cause: "another instance's stable_token call failed" },
        );
      }
      if (Date.now() >= deadline) {
        throw new AppError(
          'WECHAT_UNAVAILABLE',
          undefined,
          { api: API },
          { cause: `no access_token within ${waitMs} ms while another instance held the refresh` },
        );
      }
      await sleep(pollMs);
    }
  }

  function startFlight(stale: string | undefined): Promise<string> {
    const started = runFlight(stale).finally(() => {
      if (flight === started) flight = undefined;
    });
    flight = started;
    return started;
  }

  /** Single flight: callers in this process share one refresh. */
  function refresh(stale?: string): Promise<string> {
    const joined = flight;
    if (!joined) return startFlight(stale);
    // A flight started for another reason may answer the very token this caller saw rejected: then one more.
    return joined.then((token) => (token === stale ? (flight ?? startFlight(stale)) : token));
  }

  /** In the background, while the current token still works: an instance that finds the lock taken keeps using it. */
  function refreshAhead() {
    if (ahead || flight || Date.now() < aheadRetryAt) return;
    ahead = (async () => {
      const lock = await kv.acquire(key, lockTtlMs);
      if (!lock) return;
      try {
        const cached = await read();
        if (cached && now() < cached.refreshAt) return;
        await store(await fetchWithRetry());
      } finally {
        await kv.release(key, lock).catch(() => undefined);
      }
    })()
      .catch((err: unknown) => {
        aheadRetryAt = Date.now() + AHEAD_RETRY_MS;
        logger.warn(
          { api: API, code: (err as AppError).code },
          'access_token refresh ahead of expiry failed; the current token is used meanwhile',
        );
      })
      .finally(() => {
        ahead = undefined;
      });
  }

  async function token(): Promise<string> {
    const cached = await read();
    if (cached && now() < cached.expiresAt) {
      if (now() >= cached.refreshAt) refreshAhead();
      return cached.token;
    }
    return refresh();
  }

  return {
    async withToken(call) {
      const used = await token();
      try {
        return await call(used);
      } catch (err) {
        if (!isTokenRejected(err)) throw err;
        const { api, wechatErrcode } = (err as AppError).extensions;
        // The API as its client named it in the error; the token itself is never logged.
        logger.info({ api, wechatErrcode }, 'access_token refused by an API: fetching a new one and retrying once');
        return call(await refresh(used));
      }
    },
  };
}

/** stable_token's answer: `{access_token, expires_in}` or `{errcode, errmsg}`, parsed whatever its Content-Type. */
export function parseStableToken(status: number, text: string): { accessToken: string; expiresIn: number } {
  const { body, errcode } = readWeChatJson(API, status, text);
  // 40013 appid, 40125 secret, 45009/45011 quotas, 89503 admin confirmation, -1 busy: all "WeChat gave us no token".
  if (errcode !== 0)
    throw new AppError(
      'WECHAT_UNAVAILABLE',
      undefined,
      { api: API, wechatErrcode: errcode },
      { cause: `stable_token errcode ${errcode}: ${String(body.errmsg)}` },
    );
  const { access_token: accessToken, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || !accessToken || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new AppError(
      'WECHAT_UNAVAILABLE',
      undefined,
      { api: API },
      { cause: 'answer without access_token or expires_in' },
    );
  }
  return { accessToken, expiresIn };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
