import type { EntityManager } from '@mikro-orm/core';
import { AppError } from '../core/errors';
import type { Services } from '../core/context';
import type { Session } from './session';
import { User } from './user.entity';
import { enforceRateLimit } from './rate-limit';

export async function login(services: Services, em: EntityManager, code: string, ip: string) {
  if (!code || code.length > 256 || /\s/.test(code)) throw new AppError('BAD_USER_INPUT', 'code must be the string wx.login returned.');
  const { loginPerIp, loginPerOpenid, loginWindowSeconds } = services.config.limits;
  // Per IP before WeChat is called, so a flood cannot burn the AppID's jscode2session quota.
  await enforceRateLimit(services.cache, `login-ip:${ip}`, loginPerIp, loginWindowSeconds);
  const wx = await services.wechatLogin.code2Session(code);
  await enforceRateLimit(services.cache, `login-openid:${wx.openid}`, loginPerOpenid, loginWindowSeconds);
  const user = await upsertUser(em, wx.openid, wx.unionid);
  // Every login stores the session_key WeChat returned this time: an older one may already be rotated.
  const { token, expiresAt } = await services.sessions.issue({ userId: user.id, openid: user.openid, sessionKey: wx.sessionKey });
  return { token, expiresAt, user };
}

/**
 * One row per openid however many first logins race: the unique index arbitrates through an
 * INSERT … ON CONFLICT/ON DUPLICATE KEY UPDATE, never a read-then-insert.
 */
export async function upsertUser(em: EntityManager, openid: string, unionid?: string): Promise<User> {
  const now = new Date();
  const data: Partial<User> = { openid, updatedAt: now, createdAt: now };
  if (unionid) data.unionid = unionid;
  return em.upsert(User, data, {
    onConflictFields: ['openid'],
    onConflictAction: 'merge',
    onConflictMergeFields: unionid ? ['unionid', 'updatedAt'] : ['updatedAt'],
  });
}

const USER_BY_ID = 'select * from users where id = ?';

export async function currentUser(em: EntityManager, session: Session): Promise<User> {
  // The hottest read there is (every `me`, every profile update): a prepared primary-key SELECT mapped into a managed
  // entity, instead of building the query through the ORM's query builder on every request.
  const [row] = await em.getConnection().execute<Record<string, unknown>[]>(USER_BY_ID, [session.userId]);
  const user = row ? em.map(User, row) : null;
  // A session whose user row is gone is as good as revoked.
  if (!user) throw new AppError('UNAUTHENTICATED');
  return user;
}
