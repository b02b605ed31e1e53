import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { EXACT } from '../core/collation';
import { AvatarReview } from '../avatar/avatar-review';

/** A WeChat user of this mini-program, keyed by openid. Profile fields come from updateProfile. */
@ObjectType({
  description:
    'A WeChat user of this mini-program, one per openid. Only the user themself reads it (me, login, updateProfile, bindPhoneNumber): no field or query returns another user. The profile fields are null until updateProfile stores them; since 2022-10-25 wx.getUserProfile sends an anonymous profile (“微信用户”, a gray avatar, blank gender and region) in new mini-program versions.',
})
@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: "This server's id for the user: stable, not a WeChat identifier." })
  @PrimaryKey({ autoincrement: true })
  id!: number;

  /** Compared byte for byte (EXACT): `oAbc`, `oabc` and `oAbc ` are three users. */
  @Field({
    description:
      "The user's openid for this mini-program's AppID, from jscode2session at login. Compared byte for byte: case and spaces matter.",
  })
  @Unique()
  @Property({ length: 64, collation: EXACT })
  openid!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The user's unionid across the WeChat Open Platform account this AppID is bound to, from jscode2session at login; null while WeChat sends none (no bound account). Never taken from encrypted profile data, which an iv rewrite can forge.",
  })
  @Index()
  @Property({ length: 64, nullable: true, collation: EXACT })
  unionid?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Nickname from the last updateProfile, at most 255 characters (emoji kept whole); null until then.',
  })
  @Property({ length: 255, nullable: true })
  nickname?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The avatar shown: the image URL from the last updateProfile, or the last setProfile avatar that WeChat's image check passed, whichever came later; at most 1024 characters; null until then. A setProfile avatar still under review (avatarReview PENDING) or refused is never here.",
  })
  @Property({ length: 1024, nullable: true })
  avatarUrl?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: '0 unknown, 1 male, 2 female, as WeChat sent it in the last updateProfile; null until then.',
  })
  @Property({ type: 'smallint', nullable: true })
  gender?: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The WeChat client's language from the last updateProfile, e.g. `zh_CN` or `en`, at most 32 characters; null until then.",
  })
  @Property({ length: 32, nullable: true })
  language?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'City from the last updateProfile, at most 128 characters; null until then.',
  })
  @Property({ length: 128, nullable: true })
  city?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Province from the last updateProfile, at most 128 characters; null until then.',
  })
  @Property({ length: 128, nullable: true })
  province?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Country from the last updateProfile, at most 128 characters; null until then.',
  })
  @Property({ length: 128, nullable: true })
  country?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The user's phone number as WeChat gave it to the last bindPhoneNumber (with `+<country code> ` outside China, e.g. `13800138000` or `+1 2025550123`), at most 32 characters; null until then. Personal data: a User is only ever returned to the user themself (me, login, updateProfile, bindPhoneNumber), and the number is redacted in logs.",
  })
  @Property({ length: 32, nullable: true })
  phoneNumber?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The country calling code of phoneNumber, as digits without `+` (e.g. `86`), from the last bindPhoneNumber; null until then. Read only by the user themself, like phoneNumber.',
  })
  @Property({ length: 8, nullable: true })
  phoneCountryCode?: string | null;

  @Field(() => AvatarReview, {
    nullable: true,
    description:
      "WeChat's image check of the avatar last submitted with setProfile: PENDING until its result is pushed, then PASSED (it became avatarUrl) or REJECTED (never shown); null when setProfile never got an avatar. Read only by the user themself.",
  })
  @Property({ type: 'string', length: 16, nullable: true })
  avatarReview?: AvatarReview | null;

  /** The avatars row (its id) avatarReview is about: only that upload's result may change avatarUrl. */
  @Property({ length: 32, nullable: true })
  avatarReviewId?: string | null;

  @Field({ description: 'When the user first logged in.' })
  @Property({ type: 'datetime', onCreate: () => new Date() })
  createdAt: Date = new Date();

  @Field({ description: 'When the user last logged in, updated the profile or bound a phone number.' })
  @Property({ type: 'datetime', onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
