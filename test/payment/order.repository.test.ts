import { randomBytes } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { openDatabase, wholeSecondsNow, type Orm } from '../../src/core/db';
import { dataModel } from '../../src/server/data-model';
import { userRepository } from '../../src/auth/user.repository';
import { orderRepository } from '../../src/payment/order.repository';
import { OrderStatus } from '../../src/payment/order.entity';
import { settlePaid } from '../../src/payment/settle';
import { markServicesSuite } from '../support/server';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

/** The orders table's statements on this project's real database (MariaDB on services, libsql embedded). */
describe('the order repository', () => {
  let db: TestDatabase;
  let orm: Orm;
  let userId: number;
  beforeAll(async () => {
    db = await freshDatabase();
    const kind = db.url.startsWith('mysql:') ? 'mysql' : 'libsql';
    ({ orm } = await openDatabase({ kind, url: db.url }, dataModel, true, 5000));
    ({ id: userId } = await userRepository(orm.em.fork()).upsertByOpenid(
      `o${randomBytes(8).toString('hex')}`,
      undefined,
    ));
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  const orders = () => orderRepository(orm.em.fork());
  const tradeNo = () => `T${randomBytes(10).toString('hex')}`;
  const txn = () => `42${randomBytes(12).toString('hex')}`;
  const pending = async (amount = 100) => {
    const outTradeNo = tradeNo();
    const id = await orders().insertPending({
      outTradeNo,
      userId,
      amount,
      description: '测试 🍵',
      createdAt: wholeSecondsNow(),
    });
    return { id, outTradeNo };
  };

  it('when an order is inserted, then it reads back PENDING with what was written, by id, by out_trade_no and for its owner', async () => {
    const createdAt = wholeSecondsNow();
    const outTradeNo = tradeNo();
    const id = await orders().insertPending({ outTradeNo, userId, amount: 123, description: '测试 🍵', createdAt });
    const order = (await orders().findById(id))!;
    expect(order).toMatchObject({
      id,
      outTradeNo,
      amount: 123,
      description: '测试 🍵',
      status: OrderStatus.PENDING,
      prepayId: null,
      transactionId: null,
      paidAt: null,
    });
    expect(order.createdAt.getTime()).toBe(createdAt.getTime());
    expect((await orders().findByOutTradeNo(outTradeNo))?.id).toBe(id);
    expect((await orders().findOwn(userId, outTradeNo))?.id).toBe(id);
    expect(await orders().findOwn(userId + 1, outTradeNo)).toBeNull();
    expect(await orders().findByOutTradeNo(outTradeNo.toLowerCase())).toBeNull();
  });

  it('when 30 settlements of one order race, each on its own connection, then exactly one makes the transition', async () => {
    const { id } = await pending();
    const transactionId = txn();
    const paidAt = new Date(Date.UTC(2026, 11, 3, 4, 5, 6));
    const results = await Promise.all(Array.from({ length: 30 }, () => orders().markPaid(id, transactionId, paidAt)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await orders().findById(id)).toMatchObject({ status: OrderStatus.PAID, transactionId, paidAt });
  });

  it('when 20 notifies of one payment race through settlePaid, then one is PAID and the rest DUPLICATE', async () => {
    const { outTradeNo } = await pending(250);
    const transactionId = txn();
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, () =>
        settlePaid(orm.em.fork(), { outTradeNo, transactionId, totalFee: '250', timeEnd: '20261203120000' }),
      ),
    );
    const counts = verdicts.reduce<Record<string, number>>(
      (c, v) => ({ ...c, [v.verdict]: (c[v.verdict] ?? 0) + 1 }),
      {},
    );
    expect(counts).toEqual({ PAID: 1, DUPLICATE: 19 });
  });

  it('when a second order is marked paid with a transaction_id another order carries, then the unique index refuses it', async () => {
    const transactionId = txn();
    const first = await pending();
    const second = await pending();
    expect(await orders().markPaid(first.id, transactionId, new Date())).toBe(true);
    await expect(orders().markPaid(second.id, transactionId, new Date())).rejects.toBeInstanceOf(
      UniqueConstraintViolationException,
    );
    expect((await orders().findById(second.id))?.status).toBe(OrderStatus.PENDING);
  });

  it('when an order is closed, then it stays closed: neither a payment nor a second close changes it', async () => {
    const { id } = await pending();
    expect(await orders().closePending(id, 'ORDERPAID: closed')).toBe(true);
    expect(await orders().closePending(id)).toBe(false);
    expect(await orders().markPaid(id, txn(), new Date())).toBe(false);
    expect(await orders().findById(id)).toMatchObject({
      status: OrderStatus.CLOSED,
      lastError: 'ORDERPAID: closed',
      transactionId: null,
    });
  });

  it('when a paid order is closed, then nothing changes', async () => {
    const { id } = await pending();
    await orders().markPaid(id, txn(), new Date());
    expect(await orders().closePending(id, 'late')).toBe(false);
    expect(await orders().findById(id)).toMatchObject({ status: OrderStatus.PAID, lastError: null });
  });

  it('when a prepay_id is set, then it reads back; the owner lists their orders newest first, up to the limit', async () => {
    const { id } = await pending();
    await orders().setPrepayId(id, 'wx2026120312000000000000000001');
    expect((await orders().findById(id))?.prepayId).toBe('wx2026120312000000000000000001');
    const listed = await orders().listOwn(userId, 3);
    expect(listed).toHaveLength(3);
    expect(listed.map((o) => o.id)).toEqual([...listed.map((o) => o.id)].sort((a, b) => b - a));
    expect(listed[0].id).toBe(id);
  });
});
