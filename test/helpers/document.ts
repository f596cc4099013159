// Requests carry operations as text; tests hold them as typed documents from codegen or as strings.
import { print, type DocumentNode } from 'graphql';

export type Operation = string | DocumentNode;

export function operationText(operation: Operation): string {
  return typeof operation === 'string' ? operation : print(operation);
}
