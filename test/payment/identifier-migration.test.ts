import { MikroORM } from '@mikro-orm/core';
import { ormOptions } from '../../src/core/db';
import { dataModel } from '../../src/server/data-model';
import type { DatabaseTarget } from '../../src/core/config';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';
import { markServicesSuite } from '../support/server';

const dbTarget = (db: TestDatabase): DatabaseTarget =>
  onServices ? { kind: 'mysql', url: db.url } : { kind: 'libsql', url: db.url };

describe('the ExactIdentifiers migration', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await freshDatabase();
    orm = await MikroORM.init(await ormOptions(dbTarget(db), dataModel));
    await orm.connect();
    // It needs no Redis, but on the services project it is the MariaDB run that .ci/run must see happen.
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  /** A select on the database as the migrations left it; its caller declares the rows. */
  const sql = async <Row = Record<string, unknown>>(q: string, params: unknown[] = []) =>
    (await orm.em.fork().getConnection().execute(q, params)) as Row[];
  const run = async (q: string, params: unknown[]) => {
    await orm.em.fork().getConnection().execute(q, params);
  };

  it('when a database made by the earlier migrations holds rows, then it migrates up with them, and identifiers then match exactly', async () => {
    await orm.migrator.up({ to: 'Migration20261123133502_Payments' });
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ');
    await run('insert into users (openid, unionid, created_at, updated_at) values (?, ?, ?, ?)', [
      'oUpgrade_Mixed',
      'uUpgrade_Mixed',
      now,
      now,
    ]);
    const [{ id: userId }] = await sql<{ id: number }>('select id from users where openid = ?', ['oUpgrade_Mixed']);
    await run(
      "insert into orders (out_trade_no, user_id, amount, status, prepay_id, created_at, updated_at) values (?, ?, 1, 'PENDING', ?, ?, ?)",
      ['UpgradeOrder_1', userId, 'wxPrepay_Mixed', now, now],
    );
    // An archived forged notify with a number longer than the narrowed column.
    await run(
      "insert into payment_notifications (received_at, raw_body, body_bytes, out_trade_no, transaction_id, verdict) values (?, '<xml/>', 6, ?, ?, 'UNKNOWN_ORDER')",
      [now, 'F'.repeat(40), '4'.repeat(40)],
    );

    await orm.migrator.up({ to: 'Migration20261202100000_ExactIdentifiers' });

    expect(await sql('select openid, unionid from users')).toEqual([
      { openid: 'oUpgrade_Mixed', unionid: 'uUpgrade_Mixed' },
    ]);
    const count = async (q: string, v: string) => (await sql(q, [v])).length;
    for (const [q, exact] of [
      ['select id from users where openid = ?', 'oUpgrade_Mixed'],
      ['select id from users where unionid = ?', 'uUpgrade_Mixed'],
      ['select id from orders where out_trade_no = ?', 'UpgradeOrder_1'],
      ['select id from orders where prepay_id = ?', 'wxPrepay_Mixed'],
    ]) {
      expect(await count(q, exact)).toBe(1);
      for (const other of [exact.toLowerCase(), exact.toUpperCase(), `${exact} `])
        expect([q, other, await count(q, other)]).toEqual([q, other, 0]);
    }
    if (onServices) {
      // MariaDB enforces the lengths: the archived values were cut to the column, not refused.
      expect(await sql('select out_trade_no, transaction_id from payment_notifications')).toEqual([
        { out_trade_no: 'F'.repeat(32), transaction_id: '4'.repeat(32) },
      ]);
      const columns = await sql<{ t: string; c: string; collation: string; len: number }>(
        "select table_name as t, column_name as c, collation_name as collation, character_maximum_length as len from information_schema.columns where table_schema = database() and column_name in ('openid', 'unionid', 'out_trade_no', 'transaction_id', 'prepay_id') order by t, c",
      );
      expect(columns.map((r) => `${r.t}.${r.c} ${r.collation} ${r.len}`)).toEqual([
        'orders.out_trade_no utf8mb4_nopad_bin 32',
        'orders.prepay_id utf8mb4_nopad_bin 64',
        'orders.transaction_id utf8mb4_nopad_bin 32',
        'payment_notifications.out_trade_no utf8mb4_nopad_bin 32',
        'payment_notifications.transaction_id utf8mb4_nopad_bin 32',
        'users.openid utf8mb4_nopad_bin 64',
        'users.unionid utf8mb4_nopad_bin 64',
      ]);
    }
  });

  it('when every migration has run, then the entities and the database agree (the schema diff is empty)', async () => {
    await orm.migrator.up();
    expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
  });
});
