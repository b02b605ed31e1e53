import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
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
}

/** A list field costs its page size (`first`) times its selection; everything else costs 1 plus its selection. */
const DEFAULT_LIST_SIZE = 20;
/** When `first` is a variable its value is unknown here, so the largest page the server serves is assumed. */
const MAX_LIST_SIZE = 100;

/**
 * Refuses operations deeper, more aliased or costlier than the limits, before anything executes. Introspection
 * (__schema, __type) is not measured here: it is switched on or off as a whole with the playground.
 */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    const schema = context.getSchema();
    const measured = new Map<string, Measure>();
    const fieldOf = (parent: GraphQLNamedType | undefined, name: string) =>
      parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;

    const measure = (set: SelectionSetNode, parent: GraphQLNamedType | undefined, seen: Set<string>): Measure => {
      let depth = 0;
      let aliases = 0;
      let cost = 0;
      for (const sel of set.selections) {
        let inner: Measure = { depth: 0, aliases: 0, cost: 0 };
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          if (sel.alias) aliases += 1;
          const field = fieldOf(parent, sel.name.value);
          if (sel.selectionSet) inner = measure(sel.selectionSet, field ? getNamedType(field.type) : undefined, seen);
          const first = sel.arguments?.find((a) => a.name.value === 'first');
          const isList = field ? isListType(getNullableType(field.type)) : false;
          const size = !isList
            ? 1
            : first?.value.kind === Kind.INT
              ? Math.max(1, Number(first.value.value))
              : first?.value.kind === Kind.VARIABLE
                ? MAX_LIST_SIZE
                : DEFAULT_LIST_SIZE;
          depth = Math.max(depth, 1 + inner.depth);
          aliases += inner.aliases;
          cost += sel.selectionSet ? 1 + size * inner.cost : 1;
          continue;
        }
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          inner = measure(sel.selectionSet, sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent, seen);
        } else {
          const name = sel.name.value;
          const fragment = fragments.get(name);
          // A fragment cycle is reported by graphql's own NoFragmentCycles rule; here it just stops the walk.
          if (!fragment || seen.has(name)) continue;
          // Each fragment is measured once: re-walking it at every spread would let a few hundred bytes of nested
          // fragments (F0 spreads F1 twice, F1 spreads F2 twice, …) cost exponential time before any limit applies.
          let known = measured.get(name);
          if (!known) {
            known = measure(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), new Set(seen).add(name));
            measured.set(name, known);
          }
          inner = known;
        }
        depth = Math.max(depth, inner.depth);
        aliases += inner.aliases;
        cost += inner.cost;
      }
      return { depth, aliases, cost };
    };

    return {
      OperationDefinition(node) {
        const root = node.operation === 'query' ? schema.getQueryType() : node.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
        const m = measure(node.selectionSet, root ?? undefined, new Set());
        const over = (what: string, value: number, max: number) =>
          context.reportError(new GraphQLError(`Query ${what} ${value} exceeds the limit of ${max}.`, { nodes: [node], extensions: { code: 'QUERY_TOO_COMPLEX' } }));
        if (m.depth > limits.depth) over('depth', m.depth, limits.depth);
        if (m.aliases > limits.aliases) over('alias count', m.aliases, limits.aliases);
        if (m.cost > limits.cost) over('cost', m.cost, limits.cost);
      },
    };
  };
}
