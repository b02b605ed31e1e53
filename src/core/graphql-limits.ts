import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  isIntrospectionType,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type GraphQLField,
  type GraphQLNamedType,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  depth: number;
  aliases: number;
  cost: number;
}

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
  /** How deeply lists of the schema's own description (types, fields, args, …) nest. */
  introspectionLists: number;
}

/** A list field costs its page size (`first`) times its selection; everything else costs 1 plus its selection. */
const DEFAULT_LIST_SIZE = 20;
/** When `first` is a variable its value is unknown here, so the largest page the server serves is assumed. */
const MAX_LIST_SIZE = 100;
/**
 * The standard introspection query (GraphiQL's, codegen's) nests its lists three deep: types → fields → args.
 * Deeper (types → fields → type → fields → …) multiplies the schema by itself.
 */
const MAX_INTROSPECTION_LIST_NESTING = 3;

/**
 * Refuses operations deeper, more aliased or costlier than the limits, before anything executes. Meta fields
 * (__typename, __schema, __type) count like any other: one alias each, cost 1 plus their selection. Inside
 * introspection the schema, not the caller, decides how long a list is, so a list costs its selection once and
 * depth is not measured (the standard query is 13 deep through ofType); instead its lists may nest at most
 * MAX_INTROSPECTION_LIST_NESTING deep.
 */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    const schema = context.getSchema();
    const measured = new Map<string, Measure>();
    const fieldOf = (
      parent: GraphQLNamedType | undefined,
      name: string,
    ): GraphQLField<unknown, unknown> | undefined => {
      // Meta fields are not among a type's own fields.
      if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
      if (parent === schema.getQueryType() && (name === SchemaMetaFieldDef.name || name === TypeMetaFieldDef.name)) {
        return name === SchemaMetaFieldDef.name ? SchemaMetaFieldDef : TypeMetaFieldDef;
      }
      return parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
    };

    const measure = (set: SelectionSetNode, parent: GraphQLNamedType | undefined, seen: Set<string>): Measure => {
      let depth = 0;
      let aliases = 0;
      let cost = 0;
      let introspectionLists = 0;
      for (const sel of set.selections) {
        let inner: Measure = { depth: 0, aliases: 0, cost: 0, introspectionLists: 0 };
        if (sel.kind === Kind.FIELD) {
          if (sel.alias) aliases += 1;
          const field = fieldOf(parent, sel.name.value);
          const type = field ? getNamedType(field.type) : undefined;
          const describesSchema = type ? isIntrospectionType(type) : false;
          if (sel.selectionSet) inner = measure(sel.selectionSet, type, seen);
          const first = sel.arguments?.find((a) => a.name.value === 'first');
          const isList = field ? isListType(getNullableType(field.type)) : false;
          const size =
            !isList || describesSchema
              ? 1
              : first?.value.kind === Kind.INT
                ? Math.max(1, Number(first.value.value))
                : first?.value.kind === Kind.VARIABLE
                  ? MAX_LIST_SIZE
                  : DEFAULT_LIST_SIZE;
          depth = Math.max(depth, 1 + (describesSchema ? 0 : inner.depth));
          aliases += inner.aliases;
          cost += sel.selectionSet ? 1 + size * inner.cost : 1;
          introspectionLists = Math.max(
            introspectionLists,
            (describesSchema && isList ? 1 : 0) + inner.introspectionLists,
          );
          continue;
        }
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          inner = measure(
            sel.selectionSet,
            sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent,
            seen,
          );
        } else {
          const name = sel.name.value;
          const fragment = fragments.get(name);
          // A fragment cycle is reported by graphql's own NoFragmentCycles rule; here it just stops the walk.
          if (!fragment || seen.has(name)) continue;
          // Each fragment is measured once: re-walking it at every spread would let a few hundred bytes of nested
          // fragments (F0 spreads F1 twice, F1 spreads F2 twice, …) cost exponential time before any limit applies.
          let known = measured.get(name);
          if (!known) {
            known = measure(
              fragment.selectionSet,
              schema.getType(fragment.typeCondition.name.value),
              new Set(seen).add(name),
            );
            measured.set(name, known);
          }
          inner = known;
        }
        depth = Math.max(depth, inner.depth);
        aliases += inner.aliases;
        cost += inner.cost;
        introspectionLists = Math.max(introspectionLists, inner.introspectionLists);
      }
      return { depth, aliases, cost, introspectionLists };
    };

    return {
      OperationDefinition(node) {
        const root =
          node.operation === OperationTypeNode.QUERY
            ? schema.getQueryType()
            : node.operation === OperationTypeNode.MUTATION
              ? schema.getMutationType()
              : schema.getSubscriptionType();
        const m = measure(node.selectionSet, root ?? undefined, new Set());
        const over = (what: string, value: number, max: number) =>
          context.reportError(
            new GraphQLError(`Query ${what} ${value} exceeds the limit of ${max}.`, {
              nodes: [node],
              extensions: { code: 'QUERY_TOO_COMPLEX' },
            }),
          );
        if (m.depth > limits.depth) over('depth', m.depth, limits.depth);
        if (m.aliases > limits.aliases) over('alias count', m.aliases, limits.aliases);
        if (m.cost > limits.cost) over('cost', m.cost, limits.cost);
        if (m.introspectionLists > MAX_INTROSPECTION_LIST_NESTING)
          over('introspection list nesting', m.introspectionLists, MAX_INTROSPECTION_LIST_NESTING);
      },
    };
  };
}
