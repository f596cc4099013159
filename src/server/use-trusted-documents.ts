// Runs trusted documents over HTTP and SSE through yoga's persisted-operations plugin. The id comes
// as `documentId` (GraphQL over HTTP, Appendix A) in a POST body or GET query, or as Apollo's
// `extensions.persistedQuery.sha256Hash`.
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { documentIdFrom, TRUSTED_DOCUMENT_ERRORS, type TrustedDocuments } from './trusted-documents.js';

export interface TrustedDocumentOptions {
  documents: TrustedDocuments;
  /** Refuse operations that are not in the file. */
  only: boolean;
  /** The operator's admin token may still send any operation. */
  isAdmin: (authorization: string | null) => Promise<boolean>;
}

/** The document id a request names, if any. */
export function documentIdOf(params: GraphQLParams & { documentId?: unknown }, request: Request): string | null {
  // yoga reads only query, variables, operationName and extensions from a GET's URL.
  const fromQuery = request.method === 'GET' ? new URL(request.url).searchParams.get('documentId') : null;
  return fromQuery ?? documentIdFrom(params);
}

export function useTrustedDocuments({ documents, only, isAdmin }: TrustedDocumentOptions): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (id) => documents.lookup(id),
    extractPersistedOperationId: documentIdOf,
    allowArbitraryOperations: only ? (request) => isAdmin(request.headers.get('authorization')) : true,
    // Every document was validated against the schema when the file was loaded (trusted-documents.ts).
    skipDocumentValidation: true,
    customErrors: {
      notFound: TRUSTED_DOCUMENT_ERRORS.notFound,
      persistedQueryOnly: TRUSTED_DOCUMENT_ERRORS.required,
      keyNotFound: {
        message: 'Send an operation as query, or a trusted document as documentId.',
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      },
    },
  });
}
