import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../core/context';
import { CurrentSession } from '../auth/current-session.decorator';
import type { Session } from '../auth/session';
import { User } from '../auth/user.entity';
import { updateProfile } from './profile.service';

@Resolver()
export class ProfileResolver {
  @Authorized()
  @Mutation(() => User, { description: "Stores the profile from wx.getUserProfile's encryptedData and iv." })
  async updateProfile(
    @Arg('iv') iv: string,
    @Arg('encryptedData') encryptedData: string,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return updateProfile(ctx.services, ctx.em, session, iv, encryptedData);
  }
}
