import { OptionalProps } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { User } from '../auth/user.entity';
import { EXACT } from '../core/collation';
import { AvatarReview } from './avatar-review';

/**
 * One image POST /avatar stored, and the user it was issued to: setProfile accepts an avatarUrl only when its id is
 * here with that user (avatarIssuedTo in avatar.repository.ts). Rows are never shared: the same bytes uploaded twice,
 * by one user or two, are two ids.
 */
@Entity({ tableName: 'avatars' })
export class Avatar {
  [OptionalProps]?: 'createdAt';

  /** 128 random bits as 32 lowercase hex digits: the file's name and the URL's, unguessable. Checked by shape before any lookup. */
  @PrimaryKey({ length: 32 })
  id!: string;

  /** The uploader: the only user setProfile lets use this image. */
  @ManyToOne(() => User)
  user!: User;

  /** `jpeg`, `png` or `webp`, as its bytes say (never the file name or the declared type). */
  @Property({ length: 8 })
  format!: string;

  @Property()
  bytes!: number;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  /** media_check_async's trace_id once setProfile submitted the image: WeChat's pushed result names only this. */
  @Unique()
  @Property({ length: 64, nullable: true, collation: EXACT })
  traceId?: string | null;

  /** Null until submitted; PENDING until the result is pushed; then PASSED or REJECTED, once. */
  @Property({ type: 'string', length: 16, nullable: true })
  review?: AvatarReview | null;

  /** WeChat's label on the result (100 normal, 20002 porn, …). */
  @Property({ type: 'integer', nullable: true })
  reviewLabel?: number | null;

  @Property({ type: 'datetime', nullable: true })
  submittedAt?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  reviewedAt?: Date | null;
}

/**
 * Every wxa_media_check result WeChat pushed, once per trace_id, kept before it is matched: a push that outruns the
 * setProfile that will record its trace_id (WeChat answered the submit, the push came before our write) waits here,
 * and that setProfile settles it.
 */
@Entity({ tableName: 'media_check_results' })
export class MediaCheckResult {
  @PrimaryKey({ length: 64, collation: EXACT })
  traceId!: string;

  /** pass, review or risky, as WeChat sent it. */
  @Property({ length: 16 })
  suggest!: string;

  @Property({ type: 'integer', nullable: true })
  label?: number | null;

  @Property({ type: 'datetime' })
  receivedAt!: Date;
}
