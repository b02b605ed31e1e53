import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchema } from '../../src/core/graphql';
import { buildAppSchema } from '../../src/server/schema';

describe('schema.graphql', () => {
  it('when the schema is emitted from the resolvers, then it equals the committed file (run `npm run schema` after a change)', async () => {
    const committed = readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8');
    expect(renderSchema(await buildAppSchema())).toBe(committed);
  });
});
