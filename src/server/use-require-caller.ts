// Every operation except `models` and introspection needs a key. Checked once per operation, before
// execution, so an anonymous caller gets HTTP 401 and never reaches a resolver or input validation.
import type { DocumentNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../schema/context.js';
import { rootFieldNames } from './operation-shape.js';
import { rateLimitedError } from './use-rate-limit.js';

const PUBLIC_ROOT_FIELDS = new Set(['models', '__typename', '__schema', '__type']);

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

/** Too many wrong tokens from this address: 429 with Retry-After, else 401 for refused credentials. */
function refusal(ctx: GatewayContext) {
  const throttled = ctx.credentialsThrottledSeconds;
  return throttled ? rateLimitedError(throttled) : unauthenticatedError();
}

export function useRequireCaller(): Plugin<GatewayContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (refused(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined)) {
        setResultAndStopExecution({ errors: [refusal(args.contextValue)] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (refused(args.contextValue, args.document as DocumentNode, args.operationName as string | null | undefined)) {
        setResultAndStopExecution({ errors: [refusal(args.contextValue)] });
      }
    },
  };
}
