import { randomBytes } from 'node:crypto';
import { openDatabase, type Orm } from '../../src/core/db';
import { dataModel } from '../../src/server/data-model';
import { userRepository } from '../../src/auth/user.repository';
import { markServicesSuite } from '../support/server';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

/** The users table's statements on this project's real database (MariaDB on services, libsql embedded). */
describe('the user repository', () => {
  let db: TestDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await freshDatabase();
    const kind = db.url.startsWith('mysql:') ? 'mysql' : 'libsql';
    ({ orm } = await openDatabase({ kind, url: db.url }, dataModel, true, 5000));
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  const openid = () => `o${randomBytes(8).toString('hex')}`;
  const users = () => userRepository(orm.em.fork());
  const rowsOf = async (id: string) =>
    (await orm.em.fork().getConnection().execute('select id, unionid from users where openid = ?', [id])) as {
      id: number;
      unionid: string | null;
    }[];

  it('when 25 first logins of one openid race, each on its own connection, then there is one row and every upsert answers its id', async () => {
    const id = openid();
    const answers = await Promise.all(Array.from({ length: 25 }, () => users().upsertByOpenid(id, undefined)));
    const rows = await rowsOf(id);
    expect(rows).toHaveLength(1);
    expect(new Set(answers.map((u) => u.id))).toEqual(new Set([rows[0].id]));
    expect(answers.every((u) => u.openid === id)).toBe(true);
  });

  it('when a user logs in again, then the same row answers, with updatedAt moved on and createdAt kept', async () => {
    const id = openid();
    const first = await users().upsertByOpenid(id, undefined);
    const again = await users().upsertByOpenid(id, undefined);
    expect(again.id).toBe(first.id);
    const row = (await users().findById(first.id))!;
    expect(row.openid).toBe(id);
    expect(row.createdAt).toBeInstanceOf(Date);
    expect(row.updatedAt.getTime()).toBeGreaterThanOrEqual(row.createdAt.getTime());
  });

  it('when a login brings a unionid and a later one brings none, then the unionid is kept; a new one replaces it', async () => {
    const id = openid();
    const { id: userId } = await users().upsertByOpenid(id, 'u-first');
    await users().upsertByOpenid(id, undefined);
    expect(await rowsOf(id)).toEqual([{ id: userId, unionid: 'u-first' }]);
    await users().upsertByOpenid(id, 'u-second');
    expect(await rowsOf(id)).toEqual([{ id: userId, unionid: 'u-second' }]);
  });

  it('when the caller selected only what the upsert knows, then the answer carries those; otherwise the whole row', async () => {
    const id = openid();
    const known = await users().upsertByOpenid(id, 'u-known', new Set(['id', 'openid', 'unionid']));
    expect(known).toMatchObject({ openid: id, unionid: 'u-known' });
    const whole = await users().upsertByOpenid(id, undefined, new Set(['id', 'nickname']));
    expect(whole).toMatchObject({ id: known.id, openid: id, unionid: 'u-known', nickname: null });
    expect(whole.createdAt).toBeInstanceOf(Date);
  });

  it('when a profile update gives some fields, then exactly those are written and the rest are kept', async () => {
    const { id } = await users().upsertByOpenid(openid(), undefined);
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
    expect(await users().updateProfile(id, { nickname: '测试🐱👍', city: 'Shenzhen', gender: 1 }, at)).toBe(true);
    expect(await users().updateProfile(id, { city: 'Guangzhou' }, at)).toBe(true);
    const user = (await users().findById(id))!;
    expect(user).toMatchObject({ nickname: '测试🐱👍', city: 'Guangzhou', gender: 1, province: null, avatarUrl: null });
    expect(user.updatedAt.getTime()).toBe(at.getTime());
  });

  it('when the user row is gone, then a profile update reports it and a lookup answers null', async () => {
    expect(await users().updateProfile(2 ** 31 - 1, { nickname: 'x' }, new Date())).toBe(false);
    expect(await users().findById(2 ** 31 - 1)).toBeNull();
  });
});
