import type { EntityManager } from '@mikro-orm/core';
import type { Session } from '../auth/session';
import { currentUser } from '../auth/auth.service';
import type { User } from '../auth/user.entity';
import { userRepository } from '../auth/user.repository';
import { avatarRepository } from '../avatar/avatar.repository';
import { wholeSecondsNow } from '../core/db';
import { AppError } from '../core/errors';
import type { AccessTokenManager } from '../wechat/access-token';
import { SCENE, type ContentCheckClient } from '../wechat/content-check.client';
import { AvatarReview } from '../avatar/avatar-review';
import type { AvatarService } from '../avatar/avatar.service';
import type { AvatarReviewService } from '../avatar/avatar-review.service';

export interface FillInDeps {
  /** msg_sec_check for every nickname, media_check_async for every new avatar, before either is shown. */
  contentCheck: Pick<ContentCheckClient, 'checkText' | 'submitImage'>;
  /** The access_token every instance shares (both checks need one). */
  accessToken: Pick<AccessTokenManager, 'withToken'>;
  /** Which uploads /avatar issued to whom, and their URLs. */
  avatars: Pick<AvatarService, 'issued' | 'urlOf'>;
  /** Settles a submission whose pushed result came first, and re-syncs a write that raced a settle. */
  reviews: Pick<AvatarReviewService, 'settle' | 'syncUser'>;
  /**
   * False without WECHAT_PUSH_TOKEN: WeChat's image check result would have nowhere to go, so an avatar could never
   * leave PENDING, and setProfile refuses avatars (AVATAR_REVIEW_DISABLED) instead.
   */
  avatarReview: boolean;
}

/** The longest avatarUrl looked at: a URL /avatar issues is far shorter. */
const AVATAR_URL_MAX = 1024;

/**
 * How long a submitted avatar waits for WeChat's result before setting it again submits it anew. WeChat pushes the
 * result of media_check_async within 30 minutes and retries a push only for seconds, so a result not here after an
 * hour was lost on its way (the server was down, or /wechat/push unreachable).
 */
export const REVIEW_RESULT_WAIT_MS = 60 * 60 * 1000;

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
export function createFillInService({ contentCheck, accessToken, avatars, reviews, avatarReview }: FillInDeps) {
  /**
   * After setProfile wrote PENDING for upload `avatarId`: a result pushed before the write waits for it (settle it now,
   * exactly once, whoever gets there first), and a settle that ran between setProfile's read and its write was
   * overwritten by it (bring the user back to the upload's verdict). Whichever trace_id won the submission (a concurrent
   * setProfile of the same upload may have) is the one settled. Answers whether the user row may have changed.
   */
  async function settleAfterWrite(em: EntityManager, avatarId: string): Promise<boolean> {
    const current = await avatarRepository(em).find(avatarId);
    const settled = current?.traceId ? (await reviews.settle(em, current.traceId)) === 'settled' : false;
    return (await reviews.syncUser(em, avatarId)) || settled;
  }

  return {
    /**
     * Sets the fields given. A nickname is trimmed, checked by length, then by WeChat's msg_sec_check (scene 1,
     * profile, for the user's openid); anything but `pass` is CONTENT_RISKY and nothing is written. An avatarUrl must
     * be an upload /avatar issued to this user; a new one goes to WeChat's media_check_async and stays PENDING (the
     * previous avatar still shown) until the pushed result settles it. Every argument is validated before WeChat is
     * asked anything, and the nickname is checked before the avatar is submitted: a refused nickname spends no image
     * check and writes nothing.
     */
    async setProfile(em: EntityManager, session: Session, input: FillIn): Promise<User> {
      const nickname = input.nickname == null ? undefined : normalizeNickname(input.nickname);
      const avatarUrl = input.avatarUrl ?? undefined;
      if (nickname === undefined && avatarUrl === undefined)
        throw new AppError('BAD_USER_INPUT', 'Give a nickname, an avatarUrl or both.', { field: 'nickname' });
      if (avatarUrl !== undefined && !avatarReview) throw new AppError('AVATAR_REVIEW_DISABLED');
      if (avatarUrl !== undefined && (avatarUrl.length === 0 || avatarUrl.length > AVATAR_URL_MAX)) throw notIssued();

      // The user first: no check is spent for a user that is gone.
      const user = await currentUser(em, session);
      const avatar = avatarUrl === undefined ? undefined : await avatars.issued(em, avatarUrl, user.id);
      if (avatarUrl !== undefined && !avatar) throw notIssued();
      if (avatar?.review === AvatarReview.REJECTED) {
        throw new AppError('CONTENT_RISKY', "WeChat's image check refused this avatar: upload another.", {
          field: 'avatarUrl',
          suggest: 'risky',
        });
      }
      if (nickname !== undefined) {
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
      }
      // An upload is checked once: submitted again it keeps its verdict (PASSED) or waits for it (PENDING), unless the
      // result is overdue and none was kept for it, when it goes to WeChat again under a new trace_id.
      // The trace_id a new submission replaces, when the last one's result is overdue.
      const replacing =
        avatar?.review === AvatarReview.PENDING &&
        avatar.traceId !== null &&
        avatar.submittedAt !== null &&
        Date.now() - avatar.submittedAt.getTime() > REVIEW_RESULT_WAIT_MS &&
        !(await avatarRepository(em).findResult(avatar.traceId))
          ? avatar.traceId
          : undefined;
      const traceId =
        avatar && (avatar.review === null || replacing !== undefined)
          ? (
              await accessToken.withToken((token) =>
                contentCheck.submitImage(token, avatars.urlOf(avatar), session.openid, SCENE.profile),
              )
            ).traceId
          : undefined;

      const updatedAt = wholeSecondsNow();
      const review = avatar?.review === AvatarReview.PASSED ? AvatarReview.PASSED : AvatarReview.PENDING;
      const shown = review === AvatarReview.PASSED && avatar ? avatars.urlOf(avatar) : undefined;
      const written = await em.transactional(async (tx) => {
        if (avatar && traceId) await avatarRepository(tx).submit(avatar.id, traceId, updatedAt, replacing);
        return userRepository(tx).setFillIn(
          user.id,
          { nickname, ...(avatar ? { avatar: { id: avatar.id, review, url: shown } } : {}) },
          updatedAt,
        );
      });
      // The row went away since the SELECT: as good as revoked, like a session whose user is gone.
      if (!written) throw new AppError('UNAUTHENTICATED');
      const changed: Partial<User> = { updatedAt };
      if (nickname !== undefined) changed.nickname = nickname;
      if (avatar) {
        changed.avatarReview = review;
        changed.avatarReviewId = avatar.id;
        if (shown) changed.avatarUrl = shown;
      }
      if (avatar && review === AvatarReview.PENDING && (await settleAfterWrite(em, avatar.id)))
        return (await userRepository(em).findById(user.id)) ?? Object.assign(user, changed);
      return Object.assign(user, changed);
    },
  };
}

const notIssued = () =>
  new AppError('BAD_USER_INPUT', 'avatarUrl must be a URL that POST /avatar answered to you.', { field: 'avatarUrl' });
