import { openDatabase, type Orm } from '../../src/core/db';
import { dataModel } from '../../src/server/data-model';
import { notificationRepository } from '../../src/payment/notification.repository';
import { markServicesSuite } from '../support/server';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

/** The notify archive's statements on this project's real database (MariaDB on services, libsql embedded). */
describe('the notification repository', () => {
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

  const notifications = () => notificationRepository(orm.em.fork());
  const rowOf = async (id: number) => {
    const [row] = (await orm.em
      .fork()
      .getConnection()
      .execute('select * from payment_notifications where id = ?', [id])) as Record<string, unknown>[];
    return row;
  };
  const at = (seconds: number) => new Date(Math.floor(Date.now() / 1000) * 1000 + seconds * 1000);

  it('when a signed notify arrives, then its row is RECEIVED with the body whole; judging it writes the verdict and findings', async () => {
    const body = `<xml><out_trade_no>T1</out_trade_no><attach>测试🐱👍</attach></xml>`;
    const id = await notifications().insertReceived({
      receivedAt: at(0),
      rawBody: body,
      bodyBytes: Buffer.byteLength(body),
      outTradeNo: 'T1',
      transactionId: null,
    });
    expect(await rowOf(id)).toMatchObject({
      verdict: 'RECEIVED',
      raw_body: body,
      out_trade_no: 'T1',
      transaction_id: null,
      detail: null,
      processed_at: null,
    });
    expect(Number((await rowOf(id)).body_bytes)).toBe(Buffer.byteLength(body));

    await notifications().recordJudgement(id, {
      verdict: 'AMOUNT_MISMATCH',
      transactionId: '4200001',
      detail: 'total_fee 2 but order amount 1',
      processedAt: at(1),
    });
    const row = await rowOf(id);
    // A finding left undefined keeps what the row had.
    expect(row).toMatchObject({
      verdict: 'AMOUNT_MISMATCH',
      out_trade_no: 'T1',
      transaction_id: '4200001',
      detail: 'total_fee 2 but order amount 1',
      raw_body: body,
    });
    expect(row.processed_at).not.toBeNull();
  });

  it('when a notify is judged before anything is acted on, then one row is written already final', async () => {
    const id = await notifications().insertReceived({
      receivedAt: at(0),
      rawBody: 'x',
      bodyBytes: 2 ** 33,
      outTradeNo: null,
      transactionId: null,
    });
    expect(Number((await rowOf(id)).body_bytes)).toBe(2 ** 33);
    await notifications().insertJudged(
      { receivedAt: at(0), rawBody: '<xml>', bodyBytes: 5, outTradeNo: 'TJ', transactionId: null },
      { verdict: 'MALFORMED', detail: 'unclosed', processedAt: at(0) },
    );
    const [row] = (await orm.em
      .fork()
      .getConnection()
      .execute("select * from payment_notifications where out_trade_no = 'TJ'")) as Record<string, unknown>[];
    expect(row).toMatchObject({ verdict: 'MALFORMED', detail: 'unclosed', raw_body: '<xml>' });
    expect(row.processed_at).not.toBeNull();
  });

  it('when rows are left RECEIVED, then the sweep marks ERROR only those older than its bound, once', async () => {
    const old = await notifications().insertReceived({
      receivedAt: at(-600),
      rawBody: 'old',
      bodyBytes: 3,
      outTradeNo: null,
      transactionId: null,
    });
    const young = await notifications().insertReceived({
      receivedAt: at(0),
      rawBody: 'young',
      bodyBytes: 5,
      outTradeNo: null,
      transactionId: null,
    });
    const judged = await notifications().insertReceived({
      receivedAt: at(-600),
      rawBody: 'judged',
      bodyBytes: 6,
      outTradeNo: null,
      transactionId: null,
    });
    await notifications().recordJudgement(judged, { verdict: 'PAID', processedAt: at(-599) });

    // Rows from the tests above are younger than the bound, or already judged.
    expect(await notifications().settleStranded(at(-60), 'left RECEIVED')).toBe(1);
    expect(await rowOf(old)).toMatchObject({ verdict: 'ERROR', detail: 'left RECEIVED' });
    expect((await rowOf(young)).verdict).toBe('RECEIVED');
    expect((await rowOf(judged)).verdict).toBe('PAID');
    expect(await notifications().settleStranded(at(-60), 'left RECEIVED')).toBe(0);
  });
});
