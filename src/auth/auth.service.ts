import type { EntityManager } from '@mikro-orm/core';
import { AppError } from '../core/errors';
import { sqlOf } from '../core/db';
import type { Services } from '../server/context';
import type { Session } from './session';
import { User } from './user.entity';
import { enforceRateLimit, limitFailures } from './rate-limit';

/**
 * `userFields`: the User fields the caller selected (undefined: all of them). When the upsert itself knows every one
 * of them, the row is not read back: one statement per login instead of two.
 */
export async function login(services: Services, em: EntityManager, code: string, ip: string, userFields?: ReadonlySet<string>) {
  if (!code || code.length > 256 || /\s/.test(code)) throw new AppError('BAD_USER_INPUT', 'code must be the string wx.login returned.');
  const { loginPerIp, loginPerOpenid, loginWindowSeconds } = services.config.limits;
  // Per IP, only the codes WeChat refused count: a flood of bogus codes is stopped before it burns the AppID's
  // jscode2session quota, while a NAT of real users, whose codes are valid, is throttled only past LOGIN_RATE_PER_IP
  // exchanges in flight at once (each holds its place until WeChat answers; README says so).
  const wx = await limitFailures(
    services.cache,
    `login-refused-ip:${ip}`,
    loginPerIp,
    loginWindowSeconds,
    () => services.wechatLogin.code2Session(code),
    (err) => err instanceof AppError && err.code === 'WECHAT_CODE_INVALID',
  );
  await enforceRateLimit(services.cache, `login-openid:${wx.openid}`, loginPerOpenid, loginWindowSeconds);
  const user = await upsertUser(em, services.config.database.kind, wx.openid, wx.unionid, userFields);
  // Every login stores the session_key WeChat returned this time: an older one may already be rotated.
  const { token, expiresAt } = await services.sessions.issue({ userId: user.id, openid: user.openid, sessionKey: wx.sessionKey });
  return { token, expiresAt, user };
}

/** The user as a login knows it: every field when the row was read back, else only those the upsert wrote. */
export type LoginUser = Pick<User, 'id' | 'openid'> & Partial<User>;

/** What an upsert knows of the row without reading it back: the id, the openid, and a unionid it was given. */
function knownWithoutReadBack(field: string, unionid: string | undefined): boolean {
  return field === 'id' || field === 'openid' || field === '__typename' || (field === 'unionid' && Boolean(unionid));
}

const UPSERT_USER = {
  // LAST_INSERT_ID(id) hands back the id of the row that already existed, so one statement serves both cases.
  plain: 'insert into `users` (`openid`, `unionid`, `created_at`, `updated_at`) values (?, null, ?, ?) on duplicate key update `id` = last_insert_id(`id`), `updated_at` = ?',
  withUnionid:
    'insert into `users` (`openid`, `unionid`, `created_at`, `updated_at`) values (?, ?, ?, ?) on duplicate key update `id` = last_insert_id(`id`), `unionid` = ?, `updated_at` = ?',
};

/**
 * One row per openid however many first logins race: the unique index arbitrates through an
 * INSERT … ON CONFLICT/ON DUPLICATE KEY UPDATE, never a read-then-insert.
 */
export async function upsertUser(
  em: EntityManager,
  dialect: 'mysql' | 'libsql',
  openid: string,
  unionid?: string,
  fields?: ReadonlySet<string>,
): Promise<LoginUser> {
  const now = new Date();
  if (dialect === 'mysql') {
    const sql = unionid ? UPSERT_USER.withUnionid : UPSERT_USER.plain;
    const params = unionid ? [openid, unionid, now, now, unionid, now] : [openid, now, now, now];
    const { insertId } = await sqlOf(em).run(sql, params);
    if (fields && [...fields].every((f) => knownWithoutReadBack(f, unionid))) return unionid ? { id: insertId, openid, unionid } : { id: insertId, openid };
    return (await findUser(em, insertId))!;
  }
  // SQLite answers the upsert with RETURNING *: one statement, the whole row.
  const data: Partial<User> = { openid, updatedAt: now, createdAt: now };
  if (unionid) data.unionid = unionid;
  return em.upsert(User, data, {
    onConflictFields: ['openid'],
    onConflictAction: 'merge',
    onConflictMergeFields: unionid ? ['unionid', 'updatedAt'] : ['updatedAt'],
  });
}

const USER_BY_ID = 'select * from `users` where `id` = ?';

/**
 * The hottest read there is (every `me`, every profile update, a login's read-back): a fixed primary-key SELECT,
 * mapped into a detached User. Nothing here flushes users through the unit of work, so the identity map would only
 * cost (em.map ~30 µs a row here, the bare column mapping ~2 µs).
 */
async function findUser(em: EntityManager, id: number): Promise<User | null> {
  const sql = sqlOf(em);
  const [row] = await sql.all(USER_BY_ID, [id]);
  return row ? sql.detached(User, row) : null;
}

export async function currentUser(em: EntityManager, session: Session): Promise<User> {
  const user = await findUser(em, session.userId);
  // A session whose user row is gone is as good as revoked.
  if (!user) throw new AppError('UNAUTHENTICATED');
  return user;
}
