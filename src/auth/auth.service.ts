import type { EntityManager } from '@mikro-orm/core';
import { AppError } from '../core/errors';
import type { KeyValue } from '../core/kv';
import type { LoginClient } from '../wechat/login.client';
import type { Session, SessionStore } from './session';
import type { User } from './user.entity';
import { userRepository, type LoginUser } from './user.repository';
import { enforceRateLimit, limitFailures } from './rate-limit';

export interface AuthDeps {
  wechatLogin: LoginClient;
  sessions: SessionStore;
  /** The key-value store's 'rate-limit' use. */
  rateLimits: KeyValue;
  limits: { loginPerIp: number; loginPerOpenid: number; loginWindowSeconds: number };
}

export type AuthService = ReturnType<typeof createAuthService>;

export function createAuthService({ wechatLogin, sessions, rateLimits, limits }: AuthDeps) {
  return {
    /**
     * `userFields`: the User fields the caller selected (undefined: all of them). When the upsert itself knows every
     * one of them, the row is not read back: one statement per login instead of two.
     */
    async login(em: EntityManager, code: string, ip: string, userFields?: ReadonlySet<string>) {
      if (!code || code.length > 256 || /\s/.test(code))
        throw new AppError('BAD_USER_INPUT', 'code must be the string wx.login returned.');
      // Per IP, only the codes WeChat refused count: a flood of bogus codes is stopped before it burns the AppID's
      // jscode2session quota, while a NAT of real users, whose codes are valid, is throttled only past
      // LOGIN_RATE_PER_IP exchanges in flight at once (each holds its place until WeChat answers; docs/login.md says so).
      const wx = await limitFailures(
        rateLimits,
        `login-refused-ip:${ip}`,
        limits.loginPerIp,
        limits.loginWindowSeconds,
        () => wechatLogin.code2Session(code),
        (err) => err instanceof AppError && err.code === 'WECHAT_CODE_INVALID',
      );
      await enforceRateLimit(rateLimits, `login-openid:${wx.openid}`, limits.loginPerOpenid, limits.loginWindowSeconds);
      const user = await userRepository(em).upsertByOpenid(wx.openid, wx.unionid, userFields);
      // Every login stores the session_key WeChat returned this time: an older one may already be rotated.
      const { token, expiresAt } = await sessions.issue({
        userId: user.id,
        openid: user.openid,
        sessionKey: wx.sessionKey,
      });
      return { token, expiresAt, user };
    },

    /** Revokes this one token; the user's other sessions stay. */
    logout(token: string): Promise<void> {
      return sessions.revoke(token);
    },
  };
}

export type { LoginUser };

export async function currentUser(em: EntityManager, session: Session): Promise<User> {
  const user = await userRepository(em).findById(session.userId);
  // A session whose user row is gone is as good as revoked.
  if (!user) throw new AppError('UNAUTHENTICATED');
  return user;
}
