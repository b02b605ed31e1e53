import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { EXACT } from '../core/collation';

/** A WeChat user of this mini-program, keyed by openid. Profile fields come from updateProfile. */
@ObjectType()
@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'createdAt' | 'updatedAt';

  @Field(() => ID)
  @PrimaryKey({ autoincrement: true })
  id!: number;

  /** Compared byte for byte (EXACT): `oAbc`, `oabc` and `oAbc ` are three users. */
  @Field()
  @Unique()
  @Property({ length: 64, collation: EXACT })
  openid!: string;

  @Field(() => String, { nullable: true })
  @Index()
  @Property({ length: 64, nullable: true, collation: EXACT })
  unionid?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 255, nullable: true })
  nickname?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 1024, nullable: true })
  avatarUrl?: string | null;

  @Field(() => Int, { nullable: true, description: '0 unknown, 1 male, 2 female (as WeChat sends it)' })
  @Property({ type: 'smallint', nullable: true })
  gender?: number | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 32, nullable: true })
  language?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 128, nullable: true })
  city?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 128, nullable: true })
  province?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ length: 128, nullable: true })
  country?: string | null;

  @Field()
  @Property({ type: 'datetime', onCreate: () => new Date() })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: 'datetime', onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
