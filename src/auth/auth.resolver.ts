import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Info, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../server/context';
import { subfieldNames } from '../core/selection';
import { CurrentSession } from './current-session.decorator';
import { LoginPayload } from './login.payload';
import type { Session } from './session';
import { User } from './user.entity';
import { currentUser } from './auth.service';

@Resolver()
export class AuthResolver {
  @Mutation(() => LoginPayload, {
    description:
      "Exchanges a wx.login code with WeChat's jscode2session for a session token, creating the user on the first login. Needs no token. Errors: BAD_USER_INPUT (not a code), WECHAT_CODE_INVALID (invalid, expired or used code: call wx.login again), WECHAT_RATE_LIMITED, WECHAT_RISKY_USER (do not retry), WECHAT_UNAVAILABLE, RATE_LIMITED (too many refused codes from this IP or logins of this user: wait extensions.retryAfterSeconds).",
  })
  async login(
    @Arg('code', {
      description:
        'The code wx.login returned, as it is: single use, valid for about 5 minutes, at most 256 characters and no whitespace.',
    })
    code: string,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<LoginPayload> {
    return ctx.services.auth.login(ctx.em, code, ctx.ip, subfieldNames(info, 'user'));
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Revokes the token this request carries (the user's other tokens stay valid) and returns true. UNAUTHENTICATED without a valid token.",
  })
  async logout(@Ctx() ctx: Context): Promise<boolean> {
    await ctx.services.auth.logout(ctx.token!);
    return true;
  }

  @Authorized()
  @Query(() => User, {
    description:
      'The caller: the user whose token this request carries. UNAUTHENTICATED when the token is missing, unknown, expired or revoked.',
  })
  async me(@CurrentSession() session: Session, @Ctx() ctx: Context): Promise<User> {
    return currentUser(ctx.db, session);
  }
}
