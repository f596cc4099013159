// Every operation except `models` and introspection needs a key. Checked once per operation, before
// execution, so an anonymous caller gets HTTP 401 and never reaches validation or resolvers.
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../schema/context.js';

const PUBLIC_ROOT_FIELDS = new Set(['models', '__typename', '__schema', '__type']);

/** Root field names the operation selects, through fragments and inline fragments. */
export function rootFieldNames(document: DocumentNode, operationName?: string | null): Set<string> {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) names.add(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  if (operation) visit(operation.selectionSet);
  return names;
}

export function unauthenticatedError() {
  return createGraphQLError('A valid API key is required: send "Authorization: Bearer <apiKey>".', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

function refused(ctx: GatewayContext, document: DocumentNode, operationName: string | null | undefined): boolean {
  if (ctx.credentialsRejected) return true;
  if (ctx.apiKeyId !== null || ctx.isAdmin) return false;
  for (const name of rootFieldNames(document, operationName)) if (!PUBLIC_ROOT_FIELDS.has(name)) return true;
  return false;
}

export function useRequireCaller(): Plugin<GatewayContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (refused(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined)) {
        setResultAndStopExecution({ errors: [unauthenticatedError()] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (refused(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined)) {
        setResultAndStopExecution({ errors: [unauthenticatedError()] });
      }
    },
  };
}
