import { Field, ObjectType } from 'type-graphql';
import { User } from './user.entity';
import type { LoginUser } from './auth.service';

@ObjectType({ description: 'What login returns: a session token and the user it belongs to.' })
export class LoginPayload {
  @Field({
    description:
      'Opaque bearer token (43 characters, base64url): send it as `Authorization: Bearer <token>` on every other operation. Valid until expiresAt or logout; keep it secret, since it alone stands for the user.',
  })
  token!: string;

  @Field({
    description:
      "When the token stops working: a fixed time after login (the server's SESSION_TTL_SECONDS, 7 days by default), not extended by use. After it every call answers UNAUTHENTICATED: wx.login and login again.",
  })
  expiresAt!: Date;

  /** Holds at least the fields the operation selected (see login in auth.service). */
  @Field(() => User, { description: 'The user the token belongs to, created on the first login.' })
  user!: LoginUser;
}
