import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../server/context';
import { CurrentSession } from '../auth/current-session.decorator';
import type { Session } from '../auth/session';
import { User } from '../auth/user.entity';

@Resolver()
export class ProfileResolver {
  @Authorized()
  @Mutation(() => User, {
    description:
      "Decrypts wx.getUserProfile's encryptedData with this session's session_key and stores the profile fields it carries (nickname, avatarUrl, gender, language, city, province, country); fields it lacks keep their values. Returns the caller. Nothing is stored when a check fails. Errors: BAD_USER_INPUT (iv or encryptedData not canonical base64, or iv not 16 bytes; extensions.field names it), WECHAT_DECRYPT_FAILED (not sealed with this session's key, most often because a newer wx.login rotated it, or for another AppID or user, or too old: wx.login, login and retry with fresh data), UNAUTHENTICATED.",
  })
  async updateProfile(
    @Arg('iv', {
      description:
        "wx.getUserProfile's `iv`, as it is: standard base64 (with `+`, `/` and `=`, not URL-encoded) of 16 bytes.",
    })
    iv: string,
    @Arg('encryptedData', {
      description: "wx.getUserProfile's `encryptedData`, as it is: standard base64, not URL-encoded.",
    })
    encryptedData: string,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return ctx.services.profile.updateProfile(ctx.em, session, iv, encryptedData);
  }

  @Authorized()
  @Mutation(() => User, {
    description:
      "Exchanges the one-time code of `<button open-type=\"getPhoneNumber\">` (e.detail.code) with WeChat's getuserphonenumber, for the caller's openid, and stores the number as User.phoneNumber and User.phoneCountryCode. Returns the caller. Nothing is stored when WeChat gives no number. Errors: BAD_USER_INPUT (not a code), WECHAT_CODE_INVALID (invalid, expired, already used, or another user's code: ask for the button again), WECHAT_RATE_LIMITED, WECHAT_UNAVAILABLE (extensions.api names the WeChat API), UNAUTHENTICATED.",
  })
  async bindPhoneNumber(
    @Arg('code', {
      description:
        "getPhoneNumber's e.detail.code, as it is: single use, valid for 5 minutes, at most 256 characters and no whitespace. Not a wx.login code.",
    })
    code: string,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return ctx.services.phone.bindPhoneNumber(ctx.em, session, code);
  }

  @Authorized()
  @Mutation(() => User, {
    description:
      'Sets the profile the user filled in: the nickname from `<input type="nickname">` and the avatar from `<button open-type="chooseAvatar">`, uploaded with POST /avatar. Arguments left out or null keep what is stored. A nickname is trimmed, must then be 1 to 32 characters (an emoji counts as one), and must pass WeChat\'s msg_sec_check (version 2, scene 1, the caller\'s openid) before it is stored as given. An avatar goes to WeChat\'s image check (media_check_async): avatarReview is PENDING and avatarUrl keeps the previous avatar until the result is pushed to /wechat/push, then PASSED (avatarUrl shows it) or REJECTED (never shown); an upload is checked once, so setting it again answers its verdict, unless no result has come within an hour of its submission (lost on its way), when it is submitted again under a new trace_id. The nickname is checked first: when it is refused, the avatar is not submitted. Returns the caller. Nothing is stored when a check fails. Errors: BAD_USER_INPUT (extensions.field names the argument: a nickname of the wrong length or with control characters, no argument, or an avatarUrl POST /avatar did not answer to the caller), CONTENT_RISKY (WeChat\'s check did not pass the nickname, or refused this avatar before: extensions.field, extensions.suggest, extensions.label, extensions.traceId), AVATAR_REVIEW_DISABLED (no WECHAT_PUSH_TOKEN on the server), WECHAT_RATE_LIMITED, WECHAT_UNAVAILABLE (extensions.api names the WeChat API), UNAUTHENTICATED.',
  })
  async setProfile(
    @Arg('nickname', () => String, {
      nullable: true,
      description:
        'The nickname from `<input type="nickname">`: 1 to 32 characters after trimming; stored trimmed, byte for byte (utf8mb4, emoji kept).',
    })
    nickname: string | null | undefined,
    @Arg('avatarUrl', () => String, {
      nullable: true,
      description:
        "The `url` POST /avatar answered to the caller, exactly as given (no other URL is accepted): the new avatar, shown once WeChat's image check passes it.",
    })
    avatarUrl: string | null | undefined,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return ctx.services.fillIn.setProfile(ctx.em, session, { nickname, avatarUrl });
  }
}
