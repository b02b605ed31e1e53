import { OptionalProps } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { User } from '../auth/user.entity';

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
}
