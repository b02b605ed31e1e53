import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { sessionLib } from './dist.ts';
import type { PoolUser } from './scenarios.ts';

/** Rows per multi-row INSERT: ~1.5 MB of SQL, well under MariaDB's 16 MB max_allowed_packet. */
export const USER_ROWS_PER_INSERT = 5000;
/** SETs per pipelined batch to Redis. */
export const SESSIONS_PER_BATCH = 10_000;

/**
 * `count` users straight into the target's `users` table, as many rows as a real user base holds after updateProfile
 * (nickname with emoji, avatar URL, region), in multi-row INSERTs. Their ids come back from each INSERT's first id: a
 * multi-row INSERT on InnoDB takes consecutive AUTO_INCREMENT values (innodb_autoinc_lock_mode 1 or 2 with one
 * writer), which is checked against the table afterwards.
 */
export async function seedUsers(db: Connection, count: number, tag: string): Promise<{ id: number; openid: string }[]> {
  const now = new Date();
  const out: { id: number; openid: string }[] = [];
  for (let i = 0; i < count; i += USER_ROWS_PER_INSERT) {
    const n = Math.min(USER_ROWS_PER_INSERT, count - i);
    const rows = Array.from({ length: n }, (_, k) => {
      const u = i + k;
      // 28 characters, like WeChat's openids (o + 27).
      const openid = `o${tag}${u.toString(36).padStart(27 - tag.length, '0')}`;
      return [
        openid,
        null,
        `用户🐱 ${u}`,
        `https://thirdwx.qlogo.cn/mmopen/vi_32/seed${u}/132`,
        u % 3,
        'zh_CN',
        'Guangzhou',
        'Guangdong',
        'China',
        now,
        now,
      ];
    });
    const [res] = await db.query<ResultSetHeader>(
      'INSERT INTO users (openid, unionid, nickname, avatar_url, gender, language, city, province, country, created_at, updated_at) VALUES ?',
      [rows],
    );
    rows.forEach((r, k) => out.push({ id: res.insertId + k, openid: r[0] as string }));
  }
  // The consecutive-id assumption, checked: the first and last seeded rows have the ids computed for them.
  for (const u of [out[0], out[out.length - 1]]) {
    const [rows] = await db.query<RowDataPacket[]>('SELECT id FROM users WHERE openid = ?', [u.openid]);
    if (Number(rows[0]?.id) !== u.id)
      throw new Error(`seeded user ${u.openid} has id ${rows[0]?.id}, not the ${u.id} computed from the INSERT`);
  }
  return out;
}

/**
 * The Redis key prefix and value shape the server gives a session, read off one it issued itself (a setup login):
 * the seeded sessions are then written exactly as a login writes them, and a `me` with their token must succeed.
 */
export async function sessionFormat(redisUrl: string, known: PoolUser): Promise<{ prefix: string; expires: number }> {
  const client = createClient({ url: redisUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const hashed = sessionLib.sessionKeyFor(known.token);
    for await (const keys of client.scanIterator({ MATCH: `*${hashed}`, COUNT: 1000 })) {
      for (const key of keys) {
        const raw = await client.get(key);
        const stored = JSON.parse(raw ?? 'null') as {
          value?: { userId?: number; openid?: string; sessionKey?: string };
          expires?: number;
        } | null;
        if (stored?.value?.userId !== known.userId || stored.value.openid !== known.openid || !stored.expires)
          // The stored text holds a session_key: it is not put in the message.
          throw new Error(`the session stored at ${key} is not {value: {userId, openid, sessionKey}, expires}`);
        return { prefix: key.slice(0, key.length - hashed.length), expires: stored.expires };
      }
    }
    throw new Error(`no Redis key ends with the setup user's session hash ${hashed}`);
  } finally {
    client.destroy();
  }
}

/** One live session per user, in the server's own format, pipelined (SESSIONS_PER_BATCH SETs per round trip). */
export async function seedSessions(
  redisUrl: string,
  format: { prefix: string; expires: number },
  users: { id: number; openid: string }[],
): Promise<PoolUser[]> {
  const client = createClient({ url: redisUrl });
  client.on('error', () => undefined);
  await client.connect();
  const out: PoolUser[] = [];
  try {
    for (let i = 0; i < users.length; i += SESSIONS_PER_BATCH) {
      const batch = client.multi();
      for (const u of users.slice(i, i + SESSIONS_PER_BATCH)) {
        const token = randomBytes(32).toString('base64url');
        const value = JSON.stringify({
          value: { userId: u.id, openid: u.openid, sessionKey: randomBytes(16).toString('base64') },
          expires: format.expires,
        });
        batch.set(`${format.prefix}${sessionLib.sessionKeyFor(token)}`, value, {
          expiration: { type: 'PXAT', value: format.expires },
        });
        out.push({ token, openid: u.openid, userId: u.id });
      }
      await batch.execAsPipeline();
    }
  } finally {
    client.destroy();
  }
  return out;
}

/** Fisher–Yates, in place: `me` then reads sessions and rows in no particular order, as real traffic does. */
export function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** One row of MariaDB's EXPLAIN. */
export interface PlanRow {
  select_type?: string;
  table?: string;
  type?: string;
  key?: string | null;
  rows?: number | string | null;
  Extra?: string | null;
}

export interface StatementPlan {
  statement: string;
  count: number;
  plan: PlanRow[];
  /** Why this plan would not stay flat as the table grows, or undefined. */
  concern?: string;
}

/**
 * Every distinct statement the server sent to `dbName` while `traffic` ran, captured with MariaDB's general log (to a
 * table, switched on only for that while and restored after), and the plan MariaDB chooses for each (EXPLAIN on the
 * statement as it was sent, values included). A statement shape is its text with literals replaced by `?`. The bench's
 * own connections (`admin`, `target`: its seeding and checks) are left out; nothing else may use MariaDB meanwhile.
 */
export async function capturePlans(
  admin: Connection,
  target: Connection,
  traffic: () => Promise<void>,
): Promise<StatementPlan[]> {
  const [[before]] = await admin.query<RowDataPacket[]>(
    'SELECT @@global.general_log AS on_, @@global.log_output AS output',
  );
  await admin.query('TRUNCATE TABLE mysql.general_log');
  await admin.query("SET GLOBAL log_output = 'TABLE'");
  await admin.query('SET GLOBAL general_log = 1');
  try {
    await traffic();
  } finally {
    await admin.query('SET GLOBAL general_log = ?', [Number(before.on_)]);
    await admin.query('SET GLOBAL log_output = ?', [before.output]);
  }
  const [logged] = await admin.query<RowDataPacket[]>(
    `SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log
     WHERE command_type IN ('Query', 'Execute') AND thread_id NOT IN (?, ?)`,
    [admin.threadId, target.threadId],
  );
  await admin.query('TRUNCATE TABLE mysql.general_log');
  const shapes = new Map<string, { sql: string; count: number }>();
  for (const row of logged) {
    const sql = String(row.argument).trim();
    if (!/^(SELECT|INSERT|UPDATE|DELETE)\b/i.test(sql)) continue;
    if (!/`?(users|orders|notifications|refunds|avatars|media_check_results)`?/i.test(sql)) continue;
    const shape = sql
      .replace(/'(?:[^'\\]|\\.)*'/g, '?')
      .replace(/\b\d+(?:\.\d+)?\b/g, '?')
      .replace(/\s+/g, ' ');
    const seen = shapes.get(shape);
    if (seen) seen.count++;
    else shapes.set(shape, { sql, count: 1 });
  }
  const plans: StatementPlan[] = [];
  for (const [statement, { sql, count }] of shapes) {
    const [plan] = await target.query<RowDataPacket[]>(`EXPLAIN ${sql}`);
    const rows = plan.map((r) => ({ ...r }) as PlanRow);
    const concern = rows
      .map((r) =>
        // An INSERT's plan names its table with type ALL: it writes, it scans nothing.
        r.select_type === 'INSERT'
          ? undefined
          : r.type === 'ALL'
            ? `full scan of ${r.table}`
            : r.type === 'index'
              ? `full index scan of ${r.table}`
              : Number(r.rows) > 100
                ? `${r.rows} rows examined in ${r.table}`
                : /filesort|temporary/i.test(String(r.Extra ?? ''))
                  ? `${r.Extra} on ${r.table}`
                  : undefined,
      )
      .find(Boolean);
    plans.push({ statement, count, plan: rows, concern });
  }
  return plans.sort((a, b) => b.count - a.count);
}
