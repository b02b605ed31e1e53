import type { EntityManager } from '@mikro-orm/core';
import type { Session } from '../auth/session';
import { currentUser } from '../auth/auth.service';
import type { User } from '../auth/user.entity';
import { userRepository } from '../auth/user.repository';
import { wholeSecondsNow } from '../core/db';
import { AppError } from '../core/errors';
import type { AccessTokenManager } from '../wechat/access-token';
import { SCENE, type ContentCheckClient } from '../wechat/content-check.client';

export interface FillInDeps {
  /** msg_sec_check: every nickname passes WeChat's text check before it is stored. */
  contentCheck: Pick<ContentCheckClient, 'checkText'>;
  /** The access_token every instance shares (msg_sec_check needs one). */
  accessToken: Pick<AccessTokenManager, 'withToken'>;
}

/** setProfile's arguments: each one given is set, an absent (or null) one keeps what is stored. */
export interface FillIn {
  nickname?: string | null;
  avatarUrl?: string | null;
}

/** A nickname's length after trimming, in characters (code points: an emoji is one). */
export const NICKNAME_MIN = 1;
export const NICKNAME_MAX = 32;

export type FillInService = ReturnType<typeof createFillInService>;

/** Control characters (C0, DEL, C1): `<input type="nickname">` never gives them, and a nickname is one line. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/**
 * The nickname as it will be checked and stored: trimmed, 1 to 32 code points, no control characters. Refusals
 * name the field and never quote the nickname.
 */
export function normalizeNickname(nickname: string): string {
  const trimmed = nickname.trim();
  const length = Array.from(trimmed).length;
  if (length < NICKNAME_MIN || length > NICKNAME_MAX)
    throw new AppError(
      'BAD_USER_INPUT',
      `nickname must be ${NICKNAME_MIN} to ${NICKNAME_MAX} characters after trimming.`,
      { field: 'nickname' },
    );
  if (CONTROL.test(trimmed))
    throw new AppError('BAD_USER_INPUT', 'nickname must not contain control characters.', { field: 'nickname' });
  return trimmed;
}

// The avatar-and-nickname fill-in (`<button open-type="chooseAvatar">`, `<input type="nickname">`): what the
// user types or uploads passes WeChat's content checks on the server, since the client's own can be bypassed.
export function createFillInService({ contentCheck, accessToken }: FillInDeps) {
  return {
    /**
     * Sets the fields given. A nickname is trimmed, checked by length, then by WeChat's msg_sec_check (scene 1,
     * profile, for the user's openid); anything but `pass` is CONTENT_RISKY and nothing is written. Every argument is
     * validated before WeChat is asked anything.
     */
    async setProfile(em: EntityManager, session: Session, input: FillIn): Promise<User> {
      const nickname = input.nickname == null ? undefined : normalizeNickname(input.nickname);
      // The avatar half (one /avatar issued to this user, media_check_async, pending review) comes with POST /avatar.
      if (input.avatarUrl != null)
        throw new AppError('BAD_USER_INPUT', 'avatarUrl is not supported yet.', { field: 'avatarUrl' });
      if (nickname === undefined)
        throw new AppError('BAD_USER_INPUT', 'Give a nickname to set.', { field: 'nickname' });

      // The user first: no check is spent for a user that is gone.
      const user = await currentUser(em, session);
      const verdict = await accessToken.withToken((token) =>
        contentCheck.checkText(token, nickname, session.openid, SCENE.profile),
      );
      if (verdict.suggest !== 'pass') {
        throw new AppError('CONTENT_RISKY', undefined, {
          field: 'nickname',
          suggest: verdict.suggest,
          ...(verdict.label !== undefined ? { label: verdict.label } : {}),
          ...(verdict.traceId ? { traceId: verdict.traceId } : {}),
        });
      }
      const updatedAt = wholeSecondsNow();
      // The row went away since the SELECT: as good as revoked, like a session whose user is gone.
      if (!(await userRepository(em).updateProfile(user.id, { nickname }, updatedAt)))
        throw new AppError('UNAUTHENTICATED');
      return Object.assign(user, { nickname, updatedAt });
    },
  };
}
