import { getIntrospectionQuery, parse, validate } from 'graphql';
import { buildAppSchema } from '../../src/server/schema';
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
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^Query cost \d+ exceeds the limit of 2000\.$/),
    ]);
  });
});

describe('queryLimitsRule and meta fields', () => {
  const defaults = { depth: 10, aliases: 20, cost: 2000 };
  const errorsOf = async (query: string, limits = defaults) =>
    validate(await buildAppSchema(), parse(query), [queryLimitsRule(limits)]).map((e) => e.message);

  it("when GraphiQL's full introspection query is measured against the default limits, then it passes and fits the default token limit", async () => {
    // GraphiQL 5 asks with every option on and ofType 9 deep; codegen reads schema.graphql and never introspects.
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
      typeDepth: 9,
    });
    expect(await errorsOf(query)).toEqual([]);
    expect(() => parse(query, { maxTokens: 2000 })).not.toThrow();
    // About 200 tokens: a tenth of the default GRAPHQL_MAX_TOKENS.
    expect(() => parse(query, { maxTokens: 400 })).not.toThrow();
  });

  it('when __typename is aliased more often than the limit, then the aliases count', async () => {
    const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(await errorsOf(aliased(20))).toEqual([]);
    expect(await errorsOf(aliased(21))).toEqual(['Query alias count 21 exceeds the limit of 20.']);
  });

  it('when __schema or __type is aliased, then each alias counts', async () => {
    const query = `{ ${Array.from({ length: 21 }, (_, i) => `s${i}: __schema { queryType { name } }`).join(' ')} }`;
    expect(await errorsOf(query)).toEqual(['Query alias count 21 exceeds the limit of 20.']);
    expect(
      await errorsOf(`{ a: __type(name: "User") { name } b: __type(name: "Order") { name } }`, {
        ...defaults,
        aliases: 1,
      }),
    ).toEqual(['Query alias count 2 exceeds the limit of 1.']);
  });

  it('when a list selects only __typename, then each item costs 1', async () => {
    expect(await errorsOf(`{ orders(first: 100) { __typename } }`, { ...defaults, cost: 100 })).toEqual([
      'Query cost 101 exceeds the limit of 100.',
    ]);
  });

  it('when introspection lists nest deeper than the standard query does, then it is refused', async () => {
    expect(await errorsOf(`{ __schema { types { fields { args { name } } } } }`)).toEqual([]);
    expect(
      await errorsOf(`{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`),
    ).toEqual(['Query introspection list nesting 4 exceeds the limit of 3.']);
    // Through ofType and fragments too.
    expect(
      await errorsOf(
        `{ __type(name: "Query") { ...F } } fragment F on __Type { fields { type { ofType { fields { type { fields { type { fields { name } } } } } } } } }`,
      ),
    ).toEqual(['Query introspection list nesting 4 exceeds the limit of 3.']);
  });
});
