import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { userRepository } from '../auth/user.repository';
import { wholeSecondsNow } from '../core/db';
import type { MediaCheckResultEvent } from '../wechat/push';
import { avatarRepository, type StoredAvatar } from './avatar.repository';
import { AvatarReview } from './avatar-review';
import type { AvatarService } from './avatar.service';

export interface AvatarReviewDeps {
  avatars: Pick<AvatarService, 'urlOf' | 'remove'>;
  logger: Logger;
}

/** What one settle attempt found. */
export type SettleOutcome =
  /** This call moved the upload from PENDING to PASSED or REJECTED. */
  | 'settled'
  /** It was settled before (a repeated push, or another instance got there first). */
  | 'already'
  /** No upload carries the trace_id (yet: a push that outran setProfile's write waits for it). */
  | 'unmatched'
  /** No result for the trace_id has been pushed yet. */
  | 'no-result';

/**
 * The avatar review's end: WeChat's pushed wxa_media_check result settles the upload submitted under its trace_id,
 * exactly once however many pushes (or instances) carry it. A pass shows the image (User.avatarUrl) while it is still
 * the user's latest submission; anything else is REJECTED and the image is removed from storage.
 *
 * A result and its submission may arrive in either order, each on any instance: the push keeps the result
 * (media_check_results) then looks for the upload, and setProfile records the upload's trace_id then looks for a
 * result. Each writes before it reads, so whichever comes second sees the other, and the conditional
 * PENDING → settled UPDATE lets only one of them settle.
 */
export function createAvatarReviewService({ avatars, logger }: AvatarReviewDeps) {
  const removeQuietly = (avatar: StoredAvatar) =>
    avatars.remove(avatar).catch((err: unknown) => {
      logger.warn({ err, avatar: avatar.id }, 'a refused avatar image could not be removed from storage');
    });

  async function settle(em: EntityManager, traceId: string): Promise<SettleOutcome> {
    const repo = avatarRepository(em);
    const result = await repo.findResult(traceId);
    if (!result) return 'no-result';
    const avatar = await repo.findByTrace(traceId);
    if (!avatar) return 'unmatched';
    if (avatar.review !== AvatarReview.PENDING) {
      // A removal that failed (or a settle whose commit was not seen) is tried again.
      if (avatar.review === AvatarReview.REJECTED) await removeQuietly(avatar);
      return 'already';
    }
    // review (held for a person to look at) is not a pass either: nothing unchecked is shown.
    const review = result.suggest === 'pass' ? AvatarReview.PASSED : AvatarReview.REJECTED;
    const settled = await em.transactional(async (tx) => {
      if (!(await avatarRepository(tx).settle(avatar.id, review, result.label, wholeSecondsNow()))) return false;
      await userRepository(tx).settleAvatar(
        avatar.userId,
        avatar.id,
        review,
        review === AvatarReview.PASSED ? avatars.urlOf(avatar) : undefined,
      );
      return true;
    });
    if (!settled) return 'already';
    if (review === AvatarReview.REJECTED) await removeQuietly(avatar);
    logger.info({ avatar: avatar.id, review, label: result.label }, 'avatar review settled');
    return 'settled';
  }

  /**
   * Brings the user's avatar state up to its upload's verdict: for a setProfile whose write raced a settle (the
   * upload was settled after setProfile read it PENDING, and the write then put PENDING back). Conditional on the
   * upload still being the user's latest, like the settle itself; answers whether the user was written.
   */
  async function syncUser(em: EntityManager, avatarId: string): Promise<boolean> {
    const avatar = await avatarRepository(em).find(avatarId);
    if (!avatar || (avatar.review !== AvatarReview.PASSED && avatar.review !== AvatarReview.REJECTED)) return false;
    return userRepository(em).settleAvatar(
      avatar.userId,
      avatar.id,
      avatar.review,
      avatar.review === AvatarReview.PASSED ? avatars.urlOf(avatar) : undefined,
    );
  }

  return {
    settle,
    syncUser,

    /**
     * A wxa_media_check push: keep its result (the first per trace_id), then settle the upload it names. Answers
     * whether the result was new and what settling found.
     */
    async onResult(
      em: EntityManager,
      event: MediaCheckResultEvent,
    ): Promise<{ fresh: boolean; outcome: SettleOutcome }> {
      const fresh = await avatarRepository(em).recordResult(
        event.traceId,
        { suggest: event.suggest, label: event.label ?? null },
        wholeSecondsNow(),
      );
      return { fresh, outcome: await settle(em, event.traceId) };
    },
  };
}

export type AvatarReviewService = ReturnType<typeof createAvatarReviewService>;
