import { Field, ObjectType } from 'type-graphql';
import { User } from './user.entity';

@ObjectType()
export class LoginPayload {
  @Field({ description: 'Opaque bearer token: send it as `Authorization: Bearer <token>`.' })
  token!: string;

  @Field()
  expiresAt!: Date;

  @Field(() => User)
  user!: User;
}
