import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import pino from 'pino';
import { openDatabase, type Orm } from '../../src/core/db';
import { RequestContext } from '../../src/server/graphql-route';
import type { Services } from '../../src/server/context';
import { markServicesSuite } from '../support/server';
import { freshDatabase, onServices, type TestDatabase } from '../support/target';

@Entity({ tableName: 'widgets' })
class Widget {
  @PrimaryKey({ autoincrement: true })
  id!: number;

  @Property({ length: 32 })
  name!: string;
}

/** What Apollo does to the context for each operation it runs (ApolloServer.js cloneObject). */
const apolloClone = <T extends object>(ctx: T): T =>
  Object.assign(Object.create(Object.getPrototypeOf(ctx) as object) as T, ctx);

describe('the GraphQL request context', () => {
  let db: TestDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await freshDatabase();
    ({ orm } = await openDatabase(
      { kind: db.url.startsWith('mysql:') ? 'mysql' : 'libsql', url: db.url },
      { entities: [Widget], migrationsFor: () => [] },
      false,
    ));
    await orm.schema.create();
    if (onServices) markServicesSuite();
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  const context = () =>
    new RequestContext({
      db: orm.em,
      ip: '127.0.0.1',
      services: {} as Services,
      log: pino({ level: 'silent' }),
    });

  it('when Apollo clones the context for an operation, then no EntityManager is forked until the operation uses one', () => {
    const ctx = context();
    const clone = apolloClone(ctx);
    expect(Reflect.get(ctx, 'forked')).toBeUndefined();
    expect(Reflect.get(clone, 'forked')).toBeUndefined();
    const em = clone.em;
    expect(em).not.toBe(orm.em);
    expect(clone.em).toBe(em);
    expect(Reflect.get(ctx, 'forked')).toBeUndefined();
  });

  it('when two operations of one batch each use their EntityManager, then each has its own identity map', async () => {
    const ctx = context();
    const [a, b] = [apolloClone(ctx), apolloClone(ctx)];
    const widget = a.em.create(Widget, { name: 'only in a' });
    await a.em.flush();
    expect(a.em.getUnitOfWork().getIdentityMap().values()).toContain(widget);
    expect(b.em.getUnitOfWork().getIdentityMap().values()).not.toContain(widget);
  });

  it('when anything loads an entity through the root EntityManager (db), then MikroORM refuses, so nothing leaks between requests', async () => {
    const ctx = context();
    await expect(ctx.db.find(Widget, {})).rejects.toThrow(/global EntityManager/i);
    expect(() => ctx.db.create(Widget, { name: 'x' })).toThrow(/global EntityManager/i);
  });
});
