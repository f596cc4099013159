// What an operation asks for at its root, through fragments: the basis of the caller gate and of
// rate-limit costs (where every aliased selection counts).
import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';

export interface OperationShape {
  type: OperationTypeNode | null;
  /** One entry per root field selection, aliases included, by field name. */
  rootFields: string[];
}

export function operationShape(document: DocumentNode, operationName?: string | null): OperationShape {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const rootFields: string[] = [];
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) rootFields.push(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  if (operation) visit(operation.selectionSet);
  return { type: operation?.operation ?? null, rootFields };
}

/** Root field names the operation selects, through fragments and inline fragments. */
export function rootFieldNames(document: DocumentNode, operationName?: string | null): Set<string> {
  return new Set(operationShape(document, operationName).rootFields);
}
