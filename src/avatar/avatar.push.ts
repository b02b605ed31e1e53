import type { PushHandler } from '../push/push.route';
import { parseMediaCheckEvent } from '../wechat/push';
import type { AvatarReviewService } from './avatar-review.service';

/**
 * The wxa_media_check push: WeChat's verdict on an image setProfile submitted, matched on trace_id. A push for
 * another AppID, or one without a usable trace_id or verdict, is logged and taken (pushing it again would not make
 * it usable); a database that fails makes the route answer an error, so WeChat pushes it again.
 */
export function mediaCheckPushHandler(reviews: Pick<AvatarReviewService, 'onResult'>, appid: string): PushHandler {
  return async (em, event, log) => {
    const result = parseMediaCheckEvent(event.body);
    if ('error' in result) {
      log.warn({ reason: result.error }, 'media check push unusable: taken, not handled');
      return;
    }
    if (result.appid !== undefined && result.appid !== appid) {
      log.warn({ traceId: result.traceId }, 'media check push for another AppID: taken, not handled');
      return;
    }
    const { fresh, outcome } = await reviews.onResult(em, result);
    if (outcome === 'unmatched') {
      // Kept: the setProfile that submitted it may not have recorded its trace_id yet, and settles it when it does.
      log.warn({ traceId: result.traceId, fresh }, 'media check result for a trace_id no avatar carries (yet)');
    } else if (outcome === 'already') {
      log.info({ traceId: result.traceId, fresh }, 'media check result repeated: the avatar was settled before');
    }
  };
}
