import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { openDatabase, prepare, typedQueries, type Orm, type TableOf } from '../../src/core/db';
import { markServicesSuite } from '../support/server';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

@Entity({ tableName: 'things' })
class Thing {
  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Property({ length: 32 })
  outTradeNo!: string;
}

/** The same property, its column renamed in the decorator only: invisible to the TableOf type. */
@Entity({ tableName: 'renamed_things' })
class RenamedThing {
  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Property({ length: 32, fieldName: 'trade_no' })
  outTradeNo!: string;
}

type Things = { things: TableOf<Thing> };
const INSERT_THING = prepare<Things, { outTradeNo: string }>()((db, p) =>
  db.insertInto('things').values({ out_trade_no: p('outTradeNo') }),
);
const THINGS_BUT = prepare<Things, { outTradeNo: string }>()((db, p) =>
  db
    .selectFrom('things')
    .selectAll()
    .where('out_trade_no', '<>', p('outTradeNo'))
    .where('out_trade_no', '<>', 'constant')
    .orderBy('id'),
);

/** On this project's real database: MariaDB on services, libsql embedded. */
describe('typed queries against the metadata', () => {
  let db: TestDatabase;
  let orm: Orm;
  let kind: 'mysql' | 'libsql';
  beforeAll(async () => {
    db = await freshDatabase();
    kind = db.url.startsWith('mysql:') ? 'mysql' : 'libsql';
    ({ orm } = await openDatabase(
      { kind, url: db.url },
      { entities: [Thing, RenamedThing], migrationsFor: () => [] },
      false,
    ));
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it('when a prepared statement runs again, then it runs with that call’s values, and a constant built into it stays', async () => {
    await orm.em
      .fork()
      .getConnection()
      .execute(
        kind === 'mysql'
          ? 'create table things (id int auto_increment primary key, out_trade_no varchar(32))'
          : 'create table things (id integer primary key autoincrement, out_trade_no varchar(32))',
      );
    const q = typedQueries<Things>(orm.em.fork(), { things: Thing });
    for (const outTradeNo of ['a', 'b', 'constant'])
      expect((await q.write(INSERT_THING, { outTradeNo })).affectedRows).toBe(1);
    const rows = await q.rows(THINGS_BUT, { outTradeNo: 'a' });
    expect(rows.map((r) => q.detached(Thing, r).outTradeNo)).toEqual(['b']);
    expect((await q.rows(THINGS_BUT, { outTradeNo: 'b' })).map((r) => r.out_trade_no)).toEqual(['a']);
  });

  it('when a TableOf type names the columns as the metadata does, then the typed queries are built', () => {
    const q = typedQueries<{ things: TableOf<Thing> }>(orm.em.fork(), { things: Thing });
    expect(q.db.selectFrom('things').select(['id', 'out_trade_no']).compile().sql).toBe(
      kind === 'mysql' ? 'select `id`, `out_trade_no` from `things`' : 'select "id", "out_trade_no" from "things"',
    );
    // A column the entity does not have fails to compile (npm run typecheck covers the tests).
    // @ts-expect-error: no such column
    expect(() => q.db.selectFrom('things').select('trade_no')).not.toThrow();
  });

  it('when a column was renamed in the decorator only, then the typed queries refuse to start instead of failing a statement', () => {
    expect(() =>
      typedQueries<{ renamed_things: TableOf<RenamedThing> }>(orm.em.fork(), { renamed_things: RenamedThing }),
    ).toThrow('RenamedThing.outTradeNo is column trade_no, but the typed queries name it out_trade_no');
  });

  it('when a table is named otherwise than the entity maps it, then the typed queries refuse', () => {
    expect(() => typedQueries<{ thing: TableOf<Thing> }>(orm.em.fork(), { thing: Thing })).toThrow(
      'Thing is table things, but the typed queries call it thing',
    );
  });
});
