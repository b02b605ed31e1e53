import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode, type FieldNode } from 'graphql';
import { subfieldNames } from '../../src/core/selection';

/** The info a resolver of the operation's first root field would get. */
function infoFor(source: string) {
  const doc = parse(source);
  const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    doc.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const root = operation.selectionSet.selections[0] as FieldNode;
  return { fieldNodes: [root], fragments };
}

describe('subfieldNames', () => {
  it('when fields are selected directly, then exactly their names come back', () => {
    expect(subfieldNames(infoFor('mutation { login(code: "c") { token user { id openid } } }'), 'user')).toEqual(
      new Set(['id', 'openid']),
    );
  });

  it('when the field is not selected, then the set is empty', () => {
    expect(subfieldNames(infoFor('mutation { login(code: "c") { token } }'), 'user')).toEqual(new Set());
  });

  it('when fields hide in named and inline fragments at either level, then they are found', () => {
    const info = infoFor(`mutation { login(code: "c") { ...P } }
      fragment P on LoginPayload { ... on LoginPayload { user { id ...U } } user { ... on User { city } } }
      fragment U on User { nickname ...V }
      fragment V on User { avatarUrl }`);
    expect(subfieldNames(info, 'user')).toEqual(new Set(['id', 'nickname', 'avatarUrl', 'city']));
  });

  it('when a field is conditional or aliased, then it counts by its schema name', () => {
    const info = infoFor('mutation { login(code: "c") { user { id n: nickname @include(if: false) __typename } } }');
    expect(subfieldNames(info, 'user')).toEqual(new Set(['id', 'nickname', '__typename']));
  });

  it('when one fragment is spread twice, then it is walked without looping', () => {
    const info = infoFor('mutation { login(code: "c") { user { ...U ...U } } } fragment U on User { gender }');
    expect(subfieldNames(info, 'user')).toEqual(new Set(['gender']));
  });
});
