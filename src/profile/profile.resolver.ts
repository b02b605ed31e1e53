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
      'Decrypts wx.getUserProfile\'s encryptedData with this session\'s session_key and stores the profile fields it carries (nickname, avatarUrl, gender, language, city, province, country); fields it lacks keep their values. Returns the caller. Nothing is stored when a check fails. Errors: BAD_USER_INPUT (iv or encryptedData not canonical base64, or iv not 16 bytes; extensions.field names it), WECHAT_DECRYPT_FAILED (not sealed with this session\'s key, most often because a newer wx.login rotated it, or for another AppID or user, or too old: wx.login, login and retry with fresh data), UNAUTHENTICATED.',
  })
  async updateProfile(
    @Arg('iv', { description: 'wx.getUserProfile\'s `iv`, as it is: standard base64 (with `+`, `/` and `=`, not URL-encoded) of 16 bytes.' }) iv: string,
    @Arg('encryptedData', { description: 'wx.getUserProfile\'s `encryptedData`, as it is: standard base64, not URL-encoded.' }) encryptedData: string,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return ctx.services.profile.updateProfile(ctx.em, session, iv, encryptedData);
  }
}
