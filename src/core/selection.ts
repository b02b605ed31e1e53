import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * The names of the fields selected under `field` of the field being resolved (e.g. `user` under `login`), through
 * fragments and inline fragments. A conditional selection (@include/@skip) counts as selected, so a caller that uses
 * this to skip work can only ever do more work than needed, never less.
 */
export function subfieldNames(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, field: string): Set<string> {
  const walk = (set: SelectionSetNode | undefined, visit: (node: FieldNode) => void, seen = new Set<string>()) => {
    for (const sel of set?.selections ?? []) {
      if (sel.kind === Kind.FIELD) visit(sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet, visit, seen);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        walk(info.fragments[sel.name.value]?.selectionSet, visit, seen);
      }
    }
  };
  const names = new Set<string>();
  for (const node of info.fieldNodes) {
    walk(node.selectionSet, (child) => {
      if (child.name.value === field) walk(child.selectionSet, (grandchild) => names.add(grandchild.name.value));
    });
  }
  return names;
}
