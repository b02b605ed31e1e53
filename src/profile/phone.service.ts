import type { EntityManager } from '@mikro-orm/core';
import type { Session } from '../auth/session';
import { currentUser } from '../auth/auth.service';
import type { User } from '../auth/user.entity';
import { userRepository } from '../auth/user.repository';
import { wholeSecondsNow } from '../core/db';
import { AppError } from '../core/errors';
import type { AccessTokenManager } from '../wechat/access-token';
import type { PhoneClient } from '../wechat/phone.client';

export interface PhoneDeps {
  wechatPhone: PhoneClient;
  /** The access_token every instance shares (getuserphonenumber needs one). */
  accessToken: Pick<AccessTokenManager, 'withToken'>;
}

export type PhoneService = ReturnType<typeof createPhoneService>;

// A profile feature, not auth: the number is data the signed-in user adds about themself, like updateProfile's
// fields; nothing about a session or an identity depends on it.
export function createPhoneService({ wechatPhone, accessToken }: PhoneDeps) {
  return {
    /**
     * Exchanges a getPhoneNumber button's one-time code for the user's number (with their openid, so a code minted
     * for someone else is refused) and stores it. Nothing is written unless WeChat gave a number.
     */
    async bindPhoneNumber(em: EntityManager, session: Session, code: string): Promise<User> {
      if (!code || code.length > 256 || /\s/.test(code))
        throw new AppError('BAD_USER_INPUT', 'code must be the string getPhoneNumber gave in e.detail.code.');
      // The user first: each number WeChat hands out is billed, so none is asked for a user that is gone.
      const user = await currentUser(em, session);
      const phone = await accessToken.withToken((token) => wechatPhone.getPhoneNumber(token, code, session.openid));
      const fields = { phoneNumber: phone.phoneNumber, phoneCountryCode: phone.countryCode };
      const updatedAt = wholeSecondsNow();
      // The row went away since the SELECT: as good as revoked, like a session whose user is gone.
      if (!(await userRepository(em).updatePhone(user.id, fields, updatedAt))) throw new AppError('UNAUTHENTICATED');
      return Object.assign(user, fields, { updatedAt });
    },
  };
}
