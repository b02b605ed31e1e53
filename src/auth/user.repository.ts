import type { EntityManager } from '@mikro-orm/core';
import { prepare, typedQueries, wholeSecondsNow, type TableOf } from '../core/db';
import type { AvatarReview } from '../avatar/avatar-review';
import { User } from './user.entity';

interface UserTables {
  users: TableOf<User>;
}
const TABLES = { users: User };

/** The user as a login knows it: every field when the row was read back, else only those the upsert wrote. */
export type LoginUser = Pick<User, 'id' | 'openid'> & Partial<User>;

/** The profile fields updateProfile may write (WeChat's profile, never an identity). */
export type ProfileFields = Partial<
  Pick<User, 'nickname' | 'avatarUrl' | 'gender' | 'language' | 'city' | 'province' | 'country'>
>;

/** The phone fields bindPhoneNumber writes, both together. */
export type PhoneFields = { phoneNumber: string; phoneCountryCode: string };

const BY_ID = prepare<UserTables, { id: number }>()((db, p) =>
  db.selectFrom('users').selectAll().where('id', '=', p('id')),
);

type UpsertValues = { openid: string; unionid: string | null; now: Date };
const newUser = prepare<UserTables, UpsertValues>();
// A login refreshes updated_at, and sets a unionid WeChat sent (one it did not send is kept as it was).
const UPSERT = {
  // The dialects differ in how the row's id comes back: SQLite answers RETURNING (the whole row, in this one
  // statement); MySQL has no RETURNING, so LAST_INSERT_ID(id) hands back the id of a row that already existed.
  returning: newUser((db, p) =>
    db
      .insertInto('users')
      .values({ openid: p('openid'), unionid: p('unionid'), created_at: p('now'), updated_at: p('now') })
      .onConflict((oc) =>
        oc.column('openid').doUpdateSet((eb) => ({
          unionid: eb.fn.coalesce(eb.val(p('unionid')), eb.ref('unionid')),
          updated_at: p('now'),
        })),
      )
      .returningAll(),
  ),
  lastInsertId: newUser((db, p) =>
    db
      .insertInto('users')
      .values({ openid: p('openid'), unionid: p('unionid'), created_at: p('now'), updated_at: p('now') })
      .onDuplicateKeyUpdate((eb) => ({
        id: eb.fn<number>('last_insert_id', [eb.ref('id')]),
        unionid: eb.fn.coalesce(eb.val(p('unionid')), eb.ref('unionid')),
        updated_at: p('now'),
      })),
  ),
};

type ProfileValues = { [K in keyof Required<ProfileFields>]: NonNullable<ProfileFields[K]> | null } & {
  id: number;
  updatedAt: Date;
};
/** Every profile column in one fixed statement: a field WeChat did not send (null here) keeps what the row has. */
const UPDATE_PROFILE = prepare<UserTables, ProfileValues>()((db, p) =>
  db
    .updateTable('users')
    .set((eb) => ({
      nickname: eb.fn.coalesce(eb.val(p('nickname')), eb.ref('nickname')),
      avatar_url: eb.fn.coalesce(eb.val(p('avatarUrl')), eb.ref('avatar_url')),
      gender: eb.fn.coalesce(eb.val(p('gender')), eb.ref('gender')),
      language: eb.fn.coalesce(eb.val(p('language')), eb.ref('language')),
      city: eb.fn.coalesce(eb.val(p('city')), eb.ref('city')),
      province: eb.fn.coalesce(eb.val(p('province')), eb.ref('province')),
      country: eb.fn.coalesce(eb.val(p('country')), eb.ref('country')),
      updated_at: p('updatedAt'),
    }))
    .where('id', '=', p('id')),
);

/** What an upsert knows of the row without reading it back: the id, the openid, and a unionid it was given. */
function knownWithoutReadBack(field: string, unionid: string | undefined): boolean {
  return field === 'id' || field === 'openid' || field === '__typename' || (field === 'unionid' && Boolean(unionid));
}

/** The users table, through the request's EntityManager. Rows come back as detached Users (nothing flushes them). */
export function userRepository(em: EntityManager) {
  const q = typedQueries<UserTables>(em, TABLES);

  /**
   * The hottest read there is (every `me`, every profile update, a login's read-back): a primary-key SELECT mapped
   * into a detached User (why not the unit of work: typedQueries in core/db.ts).
   */
  async function findById(id: number): Promise<User | null> {
    const [row] = await q.rows(BY_ID, { id });
    return row ? q.detached(User, row) : null;
  }

  return {
    findById,

    /**
     * One row per openid however many first logins race: the unique index arbitrates through a single
     * INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE, never a read-then-insert. `fields`: the User fields the caller
     * selected (undefined: all of them); when the upsert itself knows every one of them, the row is not read back.
     */
    async upsertByOpenid(
      openid: string,
      unionid: string | undefined,
      fields?: ReadonlySet<string>,
    ): Promise<LoginUser> {
      const values = { openid, unionid: unionid ?? null, now: q.date(new Date()) };
      if (q.returning) return q.detached(User, (await q.rows(UPSERT.returning, values))[0]);
      const { insertId: id } = await q.write(UPSERT.lastInsertId, values);
      if (fields && [...fields].every((f) => knownWithoutReadBack(f, unionid)))
        return unionid ? { id, openid, unionid } : { id, openid };
      return (await findById(id))!;
    },

    /** Stores the phone number bindPhoneNumber got from WeChat; false when the row is gone. */
    async updatePhone(id: number, phone: PhoneFields, updatedAt: Date): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('users')
          .set({
            phone_number: phone.phoneNumber,
            phone_country_code: phone.phoneCountryCode,
            updated_at: q.date(updatedAt),
          })
          .where('id', '=', id),
      );
      return affectedRows === 1;
    },

    /**
     * setProfile's write: the nickname when given, and the avatar under review (`review` PENDING, or PASSED with its
     * URL for an upload WeChat passed before); false when the row is gone.
     */
    async setFillIn(
      id: number,
      fill: { nickname?: string; avatar?: { id: string; review: AvatarReview; url?: string } },
      updatedAt: Date,
    ): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('users')
          .set({
            ...(fill.nickname !== undefined ? { nickname: fill.nickname } : {}),
            ...(fill.avatar
              ? {
                  avatar_review: fill.avatar.review,
                  avatar_review_id: fill.avatar.id,
                  ...(fill.avatar.url ? { avatar_url: fill.avatar.url } : {}),
                }
              : {}),
            updated_at: q.date(updatedAt),
          })
          .where('id', '=', id),
      );
      return affectedRows === 1;
    },

    /**
     * The review of upload `avatarId` settled: the user's state follows it, and a pass shows it (`url`), only while it
     * is still the user's latest submission (a newer one is under review, or was settled, otherwise).
     */
    async settleAvatar(id: number, avatarId: string, review: AvatarReview, url: string | undefined): Promise<boolean> {
      const { affectedRows } = await q.write(
        q.db
          .updateTable('users')
          .set({ avatar_review: review, ...(url ? { avatar_url: url } : {}), updated_at: q.date(wholeSecondsNow()) })
          .where('id', '=', id)
          .where('avatar_review_id', '=', avatarId),
      );
      return affectedRows === 1;
    },

    /** Writes the profile fields given (absent ones are left as they were); false when the row is gone. */
    async updateProfile(id: number, fields: ProfileFields, updatedAt: Date): Promise<boolean> {
      const { affectedRows } = await q.write(UPDATE_PROFILE, {
        id,
        nickname: fields.nickname ?? null,
        avatarUrl: fields.avatarUrl ?? null,
        gender: fields.gender ?? null,
        language: fields.language ?? null,
        city: fields.city ?? null,
        province: fields.province ?? null,
        country: fields.country ?? null,
        updatedAt: q.date(updatedAt),
      });
      return affectedRows === 1;
    },
  };
}
