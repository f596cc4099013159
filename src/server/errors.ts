// What reaches clients of an error thrown outside a result union: our own errors keep their code,
// GraphQL errors pass as they are, and everything else is masked (and logged with its stack).
import type { GraphQLError } from 'graphql';
import { createGraphQLError, type YogaServerOptions } from 'graphql-yoga';
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.js';

/** By shape, not class: graphql can be loaded twice (CJS and ESM) in one process. */
export function isGraphQLError(value: unknown): value is GraphQLError {
  return value instanceof Error && value.name === 'GraphQLError';
}

type MaskError = NonNullable<Exclude<YogaServerOptions<object, object>['maskedErrors'], boolean | undefined>>['maskError'];

export function createMaskError(logger: Logger): NonNullable<MaskError> {
  return (error, message) => {
    // Executors wrap a resolver's error in a located GraphQLError, sometimes twice.
    let original: unknown = error;
    while (isGraphQLError(original) && original.originalError) original = original.originalError;
    if (isGatewayError(original)) {
      const gqlError = isGraphQLError(error) ? error : undefined;
      return createGraphQLError(original.message, {
        nodes: gqlError?.nodes,
        path: gqlError?.path,
        extensions: {
          code: original.code,
          ...(original.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}),
        },
      });
    }
    // A deliberate GraphQL error (ours or graphql's own) passes as it is.
    if (isGraphQLError(original)) return original;
    logger.error({ err: original }, 'unexpected error while executing an operation');
    return createGraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}
