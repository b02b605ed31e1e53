import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { loadConfig } from '../core/config';
import { ormOptions, openDatabase } from '../core/db';
import { dataModel } from '../server/data-model';

/**
 * `npm run migrate` applies pending migrations to DATABASE_URL (the embedded file when unset).
 * `npm run migrate -- create <name>` (developers) diffs the entities against the database and writes the next
 * migration for that database's dialect into src/migrations/<mysql|sqlite>/; list it in src/migrations/index.ts.
 */
async function main() {
  const config = loadConfig();
  const [command = 'up', name] = process.argv.slice(2);
  if (command === 'up') {
    const { orm } = await openDatabase(config.database, dataModel, false);
    const done = await orm.migrator.up();
    console.log(done.length ? `applied: ${done.map((m) => m.name).join(', ')}` : 'no pending migrations');
    await orm.close();
    return;
  }
  if (command === 'create') {
    const options = await ormOptions(config.database, dataModel);
    const folder = config.database.kind === 'mysql' ? 'mysql' : 'sqlite';
    const orm = await MikroORM.init({
      ...options,
      migrations: { ...options.migrations, migrationsList: undefined, path: `src/migrations/${folder}`, emit: 'ts' },
    });
    await orm.migrator.up();
    const result = await orm.migrator.create(undefined, false, false, name);
    console.log(result.fileName ? `wrote src/migrations/${folder}/${result.fileName}` : 'no changes');
    await orm.close();
    return;
  }
  throw new Error(`unknown command ${command}: use up or create <name>`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
