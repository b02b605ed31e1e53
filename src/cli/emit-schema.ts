import 'reflect-metadata';
import { resolve } from 'node:path';
import { emitSchema } from '../server/schema';

/** `npm run schema`: rewrites schema.graphql at the repo root from the resolvers. */
const target = resolve(__dirname, '../../schema.graphql');
emitSchema(target).then(
  () => console.log(`wrote ${target}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
