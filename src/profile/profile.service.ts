import type { EntityManager } from '@mikro-orm/core';
import type { Session } from '../auth/session';
import { currentUser } from '../auth/auth.service';
import { decryptUserData, type UserData } from '../wechat/user-data';
import { wholeSecondsNow } from '../core/db';
import { AppError } from '../core/errors';
import type { User } from '../auth/user.entity';
import { userRepository, type ProfileFields } from '../auth/user.repository';

export interface ProfileDeps {
  /** The AppID encrypted data must carry in its watermark. */
  appid: string;
  /** WECHAT_DATA_MAX_AGE_SECONDS (0: no age limit). */
  dataMaxAgeSeconds: number;
}

export type ProfileService = ReturnType<typeof createProfileService>;

export function createProfileService({ appid, dataMaxAgeSeconds }: ProfileDeps) {
  return {
    /**
     * Decrypts wx.getUserProfile's data with the session's session_key and stores the profile. Nothing is written
     * unless every check passes. One SELECT and one UPDATE of exactly the fields WeChat sent.
     */
    async updateProfile(em: EntityManager, session: Session, iv: string, encryptedData: string): Promise<User> {
      const data = decryptUserData({
        sessionKey: session.sessionKey,
        iv,
        encryptedData,
        appid,
        openid: session.openid,
        maxAgeSeconds: dataMaxAgeSeconds,
      });
      const user = await currentUser(em, session);
      const fields = profileFields(data);
      const updatedAt = wholeSecondsNow();
      // The row went away since the SELECT: as good as revoked, like a session whose user is gone.
      if (!(await userRepository(em).updateProfile(user.id, fields, updatedAt))) throw new AppError('UNAUTHENTICATED');
      return Object.assign(user, fields, { updatedAt });
    },
  };
}

// Cut by code points, not UTF-16 units, so an emoji at the limit is never split in half.
const str = (v: unknown, max: number) => (typeof v === 'string' ? Array.from(v).slice(0, max).join('') : undefined);

/** WeChat's profile field names → ours. Absent fields stay as they were. */
export function profileFields(d: UserData): ProfileFields {
  const out: ProfileFields = {
    nickname: str(d.nickName, 255),
    avatarUrl: str(d.avatarUrl, 1024),
    gender: typeof d.gender === 'number' && Number.isInteger(d.gender) ? d.gender : undefined,
    language: str(d.language, 32),
    city: str(d.city, 128),
    province: str(d.province, 128),
    country: str(d.country, 128),
    // No unionid: data an iv rewrite can forge never sets an identity; it comes from jscode2session at login.
  };
  for (const k of Object.keys(out) as (keyof ProfileFields)[]) if (out[k] === undefined) delete out[k];
  return out;
}
