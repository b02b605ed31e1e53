/**
 * The bare baseline for `npm run bench`: the same work as the server for each benchmarked operation, written as
 * plainly as Node allows — node:http, mysql2 (the driver under MikroORM) and @redis/client (the client under
 * @keyv/redis), no framework, no GraphQL, no ORM, no logging, no metrics.
 *
 * It takes the very requests the server takes (POST /graphql with {operationName, query, variables}, switching on
 * operationName instead of parsing the query; POST /notify with WeChat's XML) and answers in the same shapes. It uses
 * the same schema (migrated by the server's own migrations), the same wire formats toward WeChat, and the server's
 * pure helpers from dist/ for the pay sign, the pay XML and the encrypted-data checks.
 *
 * Configuration: the server's environment variable names (DATABASE_URL, REDIS_URL, WECHAT_*, LOGIN_RATE_*,
 * SESSION_TTL_SECONDS, PAY_*), plus PORT and HOST. Run by bench/run.ts; alone: `node bench/baseline.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { createClient } from '@redis/client';
import { paySignLib, payXmlLib, userDataLib } from './lib/dist.ts';

const env = process.env;
const need = (name: string) => {
  const v = env[name];
  if (!v) throw new Error(`baseline: ${name} is required`);
  return v;
};
const num = (name: string, def: number) => (env[name] ? Number(env[name]) : def);

const config = {
  port: num('PORT', 4100),
  host: env.HOST ?? '127.0.0.1',
  databaseUrl: need('DATABASE_URL'),
  redisUrl: need('REDIS_URL'),
  appid: need('WECHAT_APPID'),
  secret: need('WECHAT_SECRET'),
  mchId: need('WECHAT_MCH_ID'),
  payKey: need('WECHAT_PAY_KEY'),
  apiBase: need('WECHAT_API_BASE'),
  payBase: need('WECHAT_PAY_BASE'),
  notifyUrl: env.WECHAT_NOTIFY_URL,
  timeoutMs: num('WECHAT_TIMEOUT_MS', 5000),
  sessionTtlMs: num('SESSION_TTL_SECONDS', 604800) * 1000,
  loginPerIp: num('LOGIN_RATE_PER_IP', 60),
  loginPerOpenid: num('LOGIN_RATE_PER_OPENID', 10),
  loginWindowMs: num('LOGIN_RATE_WINDOW_SECONDS', 60) * 1000,
  maxAmount: num('PAY_MAX_AMOUNT', 100000),
  description: env.PAY_DESCRIPTION ?? 'Mini-program order',
  dataMaxAgeSeconds: num('WECHAT_DATA_MAX_AGE_SECONDS', 0),
  bodyLimit: num('BODY_LIMIT_BYTES', 102400),
  /** The server's MikroORM pool is { min: 0, max: 10 }. */
  poolSize: num('DB_POOL_SIZE', 10),
};

// The same driver options MikroORM gives mysql2: utf8mb4, UTC, dates as strings, big numbers as strings.
const db = createPool({
  uri: config.databaseUrl.replace(/^mariadb:/, 'mysql:'),
  connectionLimit: config.poolSize,
  charset: 'utf8mb4_unicode_ci',
  timezone: '+00:00',
  dateStrings: true,
  supportBigNumbers: true,
});
const redis = createClient({ url: config.redisUrl });
redis.on('error', (err: Error) => console.error('redis error:', err.message));

// --- errors ----------------------------------------------------------------------------------------------

/** A client-facing failure, answered as a GraphQL error with extensions.code (the server's AppError codes). */
class ClientError extends Error {
  code: string;
  extensions: Record<string, unknown>;
  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

/** AppErrors thrown by the dist helpers (decryptUserData) carry a code too. */
const asClientError = (err: unknown): ClientError | undefined => {
  if (err instanceof ClientError) return err;
  const e = err as { name?: string; code?: unknown; message?: string; extensions?: Record<string, unknown> };
  if (e?.name === 'AppError' && typeof e.code === 'string')
    return new ClientError(e.code, e.message ?? e.code, e.extensions ?? {});
  return undefined;
};

// --- sessions and rate limits (Redis) ---------------------------------------------------------------------

interface Session {
  userId: number;
  openid: string;
  sessionKey: string;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const sessionKeyFor = (token: string) => `base:sess:${createHash('sha256').update(token).digest('base64url')}`;

async function loadSession(req: IncomingMessage): Promise<Session> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token || !TOKEN_SHAPE.test(token))
    throw new ClientError('UNAUTHENTICATED', 'Missing, unknown, expired or revoked token.');
  const raw = await redis.get(sessionKeyFor(token));
  if (!raw) throw new ClientError('UNAUTHENTICATED', 'Missing, unknown, expired or revoked token.');
  return JSON.parse(raw) as Session;
}

/** Fixed window, atomic: MULTI INCR + PEXPIRE NX + PTTL, like the server's store. */
async function enforceRateLimit(bucket: string, limit: number): Promise<void> {
  const key = `base:rate:${bucket}`;
  const [count, , ttl] = (await redis
    .multi()
    .incr(key)
    .pExpire(key, config.loginWindowMs, 'NX')
    .pTTL(key)
    .exec()) as unknown as [number, number, number];
  if (Number(count) > limit) {
    throw new ClientError('RATE_LIMITED', 'Too many attempts.', {
      retryAfterSeconds: Math.max(1, Math.ceil(Number(ttl) / 1000)),
    });
  }
}

// --- WeChat ----------------------------------------------------------------------------------------------

async function callWeChat(url: string, init: RequestInit, api: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(config.timeoutMs) });
    return { status: res.status, text: await res.text() };
  } catch {
    throw new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', { api });
  }
}

async function code2Session(code: string): Promise<{ openid: string; sessionKey: string; unionid?: string }> {
  const query = new URLSearchParams({
    appid: config.appid,
    secret: config.secret,
    js_code: code,
    grant_type: 'authorization_code',
  });
  const res = await callWeChat(
    `${config.apiBase}/sns/jscode2session?${query.toString()}`,
    { method: 'GET' },
    'jscode2session',
  );
  if (res.status >= 500)
    throw new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', {
      api: 'jscode2session',
    });
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.text) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null) throw new Error('not an object');
  } catch {
    throw new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', {
      api: 'jscode2session',
    });
  }
  const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
  if (errcode !== 0) {
    const code =
      errcode === 40029 || errcode === 40163
        ? 'WECHAT_CODE_INVALID'
        : errcode === 45011
          ? 'WECHAT_RATE_LIMITED'
          : errcode === 40226
            ? 'WECHAT_RISKY_USER'
            : 'WECHAT_UNAVAILABLE';
    throw new ClientError(code, `jscode2session errcode ${errcode}`, { wechatErrcode: errcode });
  }
  const { openid, session_key: sessionKey, unionid } = body;
  if (typeof openid !== 'string' || !openid || typeof sessionKey !== 'string' || !sessionKey) {
    throw new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', {
      api: 'jscode2session',
    });
  }
  return { openid, sessionKey, unionid: typeof unionid === 'string' && unionid ? unionid : undefined };
}

const nonceStr = () => randomBytes(24).toString('base64url').slice(0, 32);

/** One signed v2 call: return_code, result_code, then the answer's own sign and appid, like the server's client. */
async function payCall(api: string, fields: Record<string, string>): Promise<Record<string, string>> {
  const params: Record<string, string> = {
    appid: config.appid,
    mch_id: config.mchId,
    nonce_str: nonceStr(),
    ...fields,
  };
  params.sign = paySignLib.paySign(params, config.payKey, 'MD5');
  const res = await callWeChat(
    `${config.payBase}/pay/${api}`,
    { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: payXmlLib.buildPayXml(params) },
    api,
  );
  const unavailable = () =>
    new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', { api });
  if (res.status >= 500) throw unavailable();
  let answer: Record<string, string>;
  try {
    answer = payXmlLib.parsePayXml(res.text);
  } catch {
    throw unavailable();
  }
  if (answer.return_code !== 'SUCCESS')
    throw new ClientError('PAYMENT_FAILED', 'WeChat Pay refused the order.', {
      api,
      wechatErrCode: 'RETURN_FAIL',
      wechatErrMsg: answer.return_msg ?? '',
    });
  if (answer.result_code !== 'SUCCESS')
    throw new ClientError('PAYMENT_FAILED', 'WeChat Pay refused the order.', {
      api,
      wechatErrCode: answer.err_code ?? 'FAIL',
      wechatErrMsg: answer.err_code_des ?? '',
    });
  if (!paySignLib.verifyPaySign(answer, config.payKey, 'MD5')) throw unavailable();
  if (answer.appid !== undefined && answer.appid !== config.appid) throw unavailable();
  return answer;
}

// --- operations ------------------------------------------------------------------------------------------

const USER_COLUMNS =
  'id, openid, unionid, nickname, avatar_url, gender, language, city, province, country, created_at, updated_at';

interface UserRow extends RowDataPacket {
  id: number;
  openid: string;
  unionid: string | null;
  nickname: string | null;
  avatar_url: string | null;
  gender: number;
  language: string | null;
  city: string | null;
  province: string | null;
  country: string | null;
  created_at: Date;
  updated_at: Date;
}

async function findUser(id: number): Promise<UserRow> {
  const [rows] = await db.query<UserRow[]>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]);
  if (!rows.length) throw new ClientError('UNAUTHENTICATED', 'Missing, unknown, expired or revoked token.');
  return rows[0];
}

async function me(req: IncomingMessage) {
  const session = await loadSession(req);
  const user = await findUser(session.userId);
  return {
    me: {
      id: String(user.id),
      openid: user.openid,
      nickname: user.nickname,
      avatarUrl: user.avatar_url,
      gender: user.gender,
    },
  };
}

async function login(req: IncomingMessage, vars: Record<string, unknown>) {
  const code = vars.code;
  if (typeof code !== 'string' || !code || code.length > 256 || /\s/.test(code))
    throw new ClientError('BAD_USER_INPUT', 'code must be the string wx.login returned.');
  await enforceRateLimit(`login-ip:${clientIp(req)}`, config.loginPerIp);
  const wx = await code2Session(code);
  await enforceRateLimit(`login-openid:${wx.openid}`, config.loginPerOpenid);
  // One row per openid however many first logins race; LAST_INSERT_ID(id) hands back the id of an existing row too.
  const now = new Date();
  const [res] = await db.query<ResultSetHeader>(
    wx.unionid
      ? 'INSERT INTO users (openid, unionid, created_at, updated_at) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), unionid = VALUES(unionid), updated_at = VALUES(updated_at)'
      : 'INSERT INTO users (openid, unionid, created_at, updated_at) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), updated_at = VALUES(updated_at)',
    [wx.openid, wx.unionid ?? null, now, now],
  );
  const userId = res.insertId;
  const token = randomBytes(32).toString('base64url');
  const session: Session = { userId, openid: wx.openid, sessionKey: wx.sessionKey };
  await redis.set(sessionKeyFor(token), JSON.stringify(session), {
    expiration: { type: 'PX', value: config.sessionTtlMs },
  });
  return {
    login: {
      token,
      expiresAt: new Date(Date.now() + config.sessionTtlMs).toISOString(),
      user: { id: String(userId), openid: wx.openid },
    },
  };
}

// Cut by code points, so an emoji at the limit is never split (the server's profileFields).
const str = (v: unknown, max: number) => (typeof v === 'string' ? Array.from(v).slice(0, max).join('') : undefined);

async function updateProfile(req: IncomingMessage, vars: Record<string, unknown>) {
  const session = await loadSession(req);
  const { iv, encryptedData } = vars;
  if (typeof iv !== 'string' || typeof encryptedData !== 'string')
    throw new ClientError('BAD_USER_INPUT', 'iv and encryptedData are required strings.');
  const data = userDataLib.decryptUserData({
    sessionKey: session.sessionKey,
    iv,
    encryptedData,
    appid: config.appid,
    openid: session.openid,
    maxAgeSeconds: config.dataMaxAgeSeconds,
  });
  const user = await findUser(session.userId);
  const fields: Record<string, unknown> = {
    nickname: str(data.nickName, 255),
    avatar_url: str(data.avatarUrl, 1024),
    gender: typeof data.gender === 'number' && Number.isInteger(data.gender) ? data.gender : undefined,
    language: str(data.language, 32),
    city: str(data.city, 128),
    province: str(data.province, 128),
    country: str(data.country, 128),
    unionid: str(data.unionId, 64) || undefined,
  };
  for (const k of Object.keys(fields)) if (fields[k] === undefined) delete fields[k];
  fields.updated_at = new Date();
  await db.query('UPDATE users SET ? WHERE id = ?', [fields, session.userId]);
  const merged = { ...user, ...fields };
  return {
    updateProfile: { id: String(merged.id), nickname: merged.nickname, gender: merged.gender, city: merged.city },
  };
}

async function createPayment(req: IncomingMessage, vars: Record<string, unknown>) {
  const session = await loadSession(req);
  const money = vars.money;
  if (typeof money !== 'number' || !Number.isSafeInteger(money) || money < 1 || money > config.maxAmount) {
    throw new ClientError(
      'BAD_USER_INPUT',
      `money must be an integer number of fen between 1 and ${config.maxAmount}.`,
      { field: 'money' },
    );
  }
  // Persisted before WeChat hears of it, so a notify can never arrive for an order we don't have.
  const outTradeNo = `${Date.now()}${randomBytes(12).toString('base64url')}`;
  const now = new Date();
  const [ins] = await db.query<ResultSetHeader>(
    "INSERT INTO orders (out_trade_no, user_id, amount, description, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'PENDING', ?, ?)",
    [outTradeNo, session.userId, money, config.description, now, now],
  );
  const orderId = ins.insertId;
  let prepayId: string;
  try {
    const answer = await payCall('unifiedorder', {
      body: config.description,
      out_trade_no: outTradeNo,
      total_fee: String(money),
      spbill_create_ip: clientIp(req),
      notify_url: config.notifyUrl ?? `http://${config.host}:${config.port}/notify`,
      trade_type: 'JSAPI',
      openid: session.openid,
    });
    if (!answer.prepay_id)
      throw new ClientError('WECHAT_UNAVAILABLE', 'WeChat did not answer usably: retry later.', {
        api: 'unifiedorder',
      });
    prepayId = answer.prepay_id;
  } catch (err) {
    const known = asClientError(err);
    if (!known) throw err;
    // Never leave an order looking payable when the client got no way to pay it.
    await db.query("UPDATE orders SET status = 'CLOSED', last_error = ?, updated_at = ? WHERE id = ?", [
      `${known.code}`.slice(0, 255),
      new Date(),
      orderId,
    ]);
    throw known;
  }
  await db.query('UPDATE orders SET prepay_id = ?, updated_at = ? WHERE id = ?', [prepayId, new Date(), orderId]);
  const base = {
    appId: config.appid,
    timeStamp: String(Math.floor(Date.now() / 1000)),
    nonceStr: nonceStr(),
    package: `prepay_id=${prepayId}`,
    signType: 'MD5',
  };
  const paySign = paySignLib.paySign(base, config.payKey, 'MD5');
  return {
    createPayment: {
      order: { id: String(orderId), outTradeNo, amount: money, status: 'PENDING' },
      payParams: {
        timeStamp: base.timeStamp,
        nonceStr: base.nonceStr,
        package: base.package,
        signType: base.signType,
        paySign,
      },
    },
  };
}

// --- notify ----------------------------------------------------------------------------------------------

const NOTIFY_CAP = 64 * 1024;
const UNVERIFIED_KEEP = 4 * 1024;
const UNVERIFIED = new Set(['MALFORMED', 'DOCTYPE_REFUSED', 'BODY_TOO_LARGE', 'BAD_SIGN']);

interface Judged {
  status: number;
  verdict: string;
  body: string;
  outTradeNo?: string | null;
  transactionId?: string | null;
  detail?: string;
}

/** China time yyyyMMddHHmmss → Date; an unreadable one falls back to now. */
function parseTimeEnd(timeEnd: string | undefined): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(timeEnd ?? '');
  if (!m) return new Date();
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h - 8, mi, s));
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

/** The server's order: keep the raw body, parse strictly, verify, check merchant and amount, one conditional UPDATE. */
async function notify(raw: string, bytes: number, truncated: boolean): Promise<Judged> {
  const [ins] = await db.query<ResultSetHeader>(
    "INSERT INTO payment_notifications (received_at, raw_body, body_bytes, verdict) VALUES (?, ?, ?, 'RECEIVED')",
    [new Date(), raw, bytes],
  );
  const judged = await judge(raw, truncated);
  const set: Record<string, unknown> = { verdict: judged.verdict, processed_at: new Date() };
  if (judged.outTradeNo !== undefined) set.out_trade_no = judged.outTradeNo;
  if (judged.transactionId !== undefined) set.transaction_id = judged.transactionId;
  if (judged.detail !== undefined) set.detail = judged.detail;
  if (UNVERIFIED.has(judged.verdict) && raw.length > UNVERIFIED_KEEP) set.raw_body = raw.slice(0, UNVERIFIED_KEEP);
  await db.query('UPDATE payment_notifications SET ? WHERE id = ?', [set, ins.insertId]);
  return judged;
}

async function judge(raw: string, truncated: boolean): Promise<Judged> {
  const fail = (status: number, verdict: string, message: string, extra: Partial<Judged> = {}): Judged => ({
    status,
    verdict,
    body: payXmlLib.notifyFail(message),
    ...extra,
  });
  const ok = (verdict: string, extra: Partial<Judged>): Judged => ({
    status: 200,
    verdict,
    body: payXmlLib.NOTIFY_SUCCESS,
    ...extra,
  });
  if (truncated) return fail(413, 'BODY_TOO_LARGE', 'body too large');
  let f: Record<string, string>;
  try {
    f = payXmlLib.parsePayXml(raw);
  } catch (err) {
    const e = err as { name?: string; reason?: string; message?: string };
    if (e?.name !== 'PayXmlError') throw err;
    return fail(400, e.reason === 'DOCTYPE' ? 'DOCTYPE_REFUSED' : 'MALFORMED', 'malformed XML', {
      detail: String(e.message).slice(0, 255),
    });
  }
  const ids = {
    outTradeNo: f.out_trade_no?.slice(0, 64) || null,
    transactionId: f.transaction_id?.slice(0, 64) || null,
  };
  // sign_type honoured when present; MD5 (WeChat's default, and ours) otherwise.
  if (!paySignLib.verifyPaySign(f, config.payKey, 'MD5')) return fail(200, 'BAD_SIGN', 'bad sign', ids);
  if (f.return_code !== 'SUCCESS' || f.result_code !== 'SUCCESS')
    return fail(200, 'NOT_SUCCESS', 'not a successful payment', {
      ...ids,
      detail: `${f.return_code}/${f.result_code}`,
    });
  if (f.appid !== config.appid || f.mch_id !== config.mchId)
    return fail(200, 'WRONG_MERCHANT', 'appid or mch_id mismatch', ids);
  if (!f.out_trade_no || !f.transaction_id)
    return fail(200, 'MALFORMED', 'missing out_trade_no or transaction_id', ids);

  const [rows] = await db.query<RowDataPacket[]>('SELECT id, amount FROM orders WHERE out_trade_no = ?', [
    f.out_trade_no,
  ]);
  if (!rows.length) return fail(200, 'UNKNOWN_ORDER', 'unknown order', ids);
  const order = rows[0];
  if ((f.total_fee ?? '') !== String(order.amount))
    return fail(200, 'AMOUNT_MISMATCH', 'amount mismatch', {
      ...ids,
      detail: `total_fee ${f.total_fee} but order amount ${order.amount}`,
    });
  let affected: number;
  try {
    const [upd] = await db.query<ResultSetHeader>(
      "UPDATE orders SET status = 'PAID', transaction_id = ?, paid_at = ?, updated_at = ? WHERE id = ? AND status = 'PENDING'",
      [f.transaction_id, parseTimeEnd(f.time_end), new Date(), order.id],
    );
    affected = upd.affectedRows;
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_DUP_ENTRY')
      return fail(200, 'CONFLICT', 'conflicting transaction', ids);
    throw err;
  }
  if (affected === 1) return ok('PAID', ids);
  const [now] = await db.query<RowDataPacket[]>('SELECT status, transaction_id FROM orders WHERE id = ?', [order.id]);
  if (now[0].status === 'PAID')
    return now[0].transaction_id === f.transaction_id
      ? ok('DUPLICATE', ids)
      : fail(200, 'CONFLICT', 'conflicting transaction', ids);
  return ok('ORDER_CLOSED', ids);
}

// --- HTTP ------------------------------------------------------------------------------------------------

function clientIp(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The body up to `cap` bytes; past it, what came so far and truncated = true (the rest is never buffered). */
function readBody(req: IncomingMessage, cap: number): Promise<{ buf: Buffer; bytes: number; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      resolve({ buf: Buffer.concat(chunks).subarray(0, cap), bytes, truncated });
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      bytes += chunk.length;
      chunks.push(chunk);
      if (bytes > cap) finish(true);
    });
    req.on('end', () => finish(false));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

const OPERATIONS: Record<string, (req: IncomingMessage, vars: Record<string, unknown>) => Promise<unknown>> = {
  Me: me,
  Login: login,
  UpdateProfile: updateProfile,
  CreatePayment: createPayment,
};

async function graphql(req: IncomingMessage, res: ServerResponse) {
  const { buf, truncated } = await readBody(req, config.bodyLimit);
  if (truncated) return sendJson(res, 413, { errors: [{ message: 'Request body is too large.' }] });
  let body: { operationName?: unknown; variables?: unknown };
  try {
    body = JSON.parse(buf.toString('utf8')) as typeof body;
  } catch {
    return sendJson(res, 400, { errors: [{ message: 'Body is not JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  }
  const op = typeof body.operationName === 'string' ? OPERATIONS[body.operationName] : undefined;
  if (!op)
    return sendJson(res, 400, {
      errors: [
        {
          message: 'The baseline knows the operations Me, Login, UpdateProfile and CreatePayment.',
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    });
  const vars =
    typeof body.variables === 'object' && body.variables !== null ? (body.variables as Record<string, unknown>) : {};
  try {
    sendJson(res, 200, { data: await op(req, vars) });
  } catch (err) {
    const known = asClientError(err);
    if (!known) {
      console.error('baseline: unexpected error', err);
      return sendJson(res, 200, {
        errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
        data: null,
      });
    }
    sendJson(res, 200, {
      errors: [{ message: known.message, extensions: { code: known.code, ...known.extensions } }],
      data: null,
    });
  }
}

async function notifyRoute(req: IncomingMessage, res: ServerResponse) {
  const { buf, bytes, truncated } = await readBody(req, NOTIFY_CAP);
  try {
    const judged = await notify(buf.toString('utf8'), bytes, truncated);
    if (truncated) res.setHeader('connection', 'close');
    send(res, judged.status, 'text/xml', judged.body);
  } catch (err) {
    console.error('baseline: notify failed', err);
    send(res, 500, 'text/xml', payXmlLib.notifyFail('temporary failure, retry'));
  }
}

async function readyz(res: ServerResponse) {
  const [dbOk, storeOk] = (await Promise.allSettled([db.query('SELECT 1'), redis.ping()])).map(
    (r) => r.status === 'fulfilled',
  );
  sendJson(res, dbOk && storeOk ? 200 : 503, {
    status: dbOk && storeOk ? 'ok' : 'unavailable',
    database: dbOk ? 'ok' : 'down',
    store: storeOk ? 'ok' : 'down',
  });
}

const server = createServer((req, res) => {
  const path = req.url?.split('?')[0];
  const handled =
    req.method === 'POST' && path === '/graphql'
      ? graphql(req, res)
      : req.method === 'POST' && path === '/notify'
        ? notifyRoute(req, res)
        : req.method === 'GET' && (path === '/readyz' || path === '/healthz')
          ? readyz(res)
          : Promise.resolve(sendJson(res, 404, { error: 'not found' }));
  handled.catch((err: unknown) => {
    console.error('baseline: request failed', err);
    if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error.' }] });
    else res.destroy();
  });
});
// Like Fastify's default: keep-alive connections stay open between a client's requests.
server.keepAliveTimeout = 72_000;

async function main() {
  await redis.connect();
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  console.log(JSON.stringify({ msg: 'baseline listening', url: `http://${config.host}:${config.port}` }));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), 5000);
    cut.unref();
    void Promise.allSettled([db.end(), redis.close()]).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error('baseline failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
