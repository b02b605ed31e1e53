import {
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedScalarType,
} from 'graphql';
import { buildAppSchema } from '../../src/server/schema';

/**
 * Every named type, field, argument, input field and enum value this API defines, by schema coordinate
 * (`Type.field(arg:)`), with the description it carries. Introspection (`__*`) and graphql-js's own scalars are
 * not ours to describe.
 */
function coordinates(schema: GraphQLSchema): { coordinate: string; description: string | null | undefined }[] {
  const out: { coordinate: string; description: string | null | undefined }[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || isSpecifiedScalarType(type)) continue;
    out.push({ coordinate: type.name, description: type.description });
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      // The three kinds' field maps differ, so Object.values needs to be told what one holds.
      for (const field of Object.values<GraphQLField<unknown, unknown> | GraphQLInputField>(type.getFields())) {
        out.push({ coordinate: `${type.name}.${field.name}`, description: field.description });
        for (const arg of 'args' in field ? field.args : []) {
          out.push({ coordinate: `${type.name}.${field.name}(${arg.name}:)`, description: arg.description });
        }
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues())
        out.push({ coordinate: `${type.name}.${value.name}`, description: value.description });
    }
  }
  return out;
}

describe('schema descriptions', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildAppSchema();
  });

  it('when the schema is built from the resolvers, then every type, field, argument and enum value has a description (a `description:` option on its decorator)', () => {
    const all = coordinates(schema);
    // The walk itself reached every kind of coordinate, so an empty list below means something.
    expect(all.map((c) => c.coordinate)).toEqual(
      expect.arrayContaining(['Query', 'Mutation.login', 'Mutation.login(code:)', 'OrderStatus.PAID', 'DateTime']),
    );
    const missing = all.filter((c) => !c.description?.trim()).map((c) => c.coordinate);
    expect(missing).toEqual([]);
  });
});
