import { Field, ObjectType } from 'type-graphql';
import { User } from './user.entity';
import type { LoginUser } from './auth.service';

@ObjectType()
export class LoginPayload {
  @Field({ description: 'Opaque bearer token: send it as `Authorization: Bearer <token>`.' })
  token!: string;

  @Field()
  expiresAt!: Date;

  /** Holds at least the fields the operation selected (see login in auth.service). */
  @Field(() => User)
  user!: LoginUser;
}
