import { parse, validate } from 'graphql';
import { buildAppSchema } from '../../src/core/graphql';
import { queryLimitsRule } from '../../src/core/graphql-limits';

describe('queryLimitsRule', () => {
  it('when fragments nest 30 levels deep, each spreading the next twice, then it is refused without an exponential walk', async () => {
    const schema = await buildAppSchema();
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on User { id }` : `fragment F${i} on User { ...F${i + 1} ...F${i + 1} }`,
    ).join('\n');
    const document = parse(`{ me { ...F0 } }\n${fragments}`);
    // Before memoisation this took about 2^30 fragment walks (hours); now it is one walk per fragment.
    const errors = validate(schema, document, [queryLimitsRule({ depth: 10, aliases: 20, cost: 2000 })]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^Query cost \d+ exceeds the limit of 2000\.$/)]);
  });
});
