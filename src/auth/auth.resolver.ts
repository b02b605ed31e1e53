import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Info, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../core/context';
import { subfieldNames } from '../core/selection';
import { CurrentSession } from './current-session.decorator';
import { LoginPayload } from './login.payload';
import type { Session } from './session';
import { User } from './user.entity';
import { currentUser, login } from './auth.service';

@Resolver()
export class AuthResolver {
  @Mutation(() => LoginPayload, { description: 'Exchanges a wx.login code for a session token.' })
  async login(@Arg('code') code: string, @Ctx() ctx: Context, @Info() info: GraphQLResolveInfo): Promise<LoginPayload> {
    return login(ctx.services, ctx.em, code, ctx.ip, subfieldNames(info, 'user'));
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Revokes the token this request carries.' })
  async logout(@Ctx() ctx: Context): Promise<boolean> {
    await ctx.services.sessions.revoke(ctx.token!);
    return true;
  }

  @Authorized()
  @Query(() => User, { description: 'The caller.' })
  async me(@CurrentSession() session: Session, @Ctx() ctx: Context): Promise<User> {
    return currentUser(ctx.em, session);
  }
}
