// What reaches clients of an error thrown outside a result union: our own errors keep their code,
// GraphQL errors pass as they are, and everything else is masked (and logged with its stack).
import { GraphQLError } from 'graphql';
import { createGraphQLError, type YogaServerOptions } from 'graphql-yoga';
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.js';

type MaskError = NonNullable<Exclude<YogaServerOptions<object, object>['maskedErrors'], boolean | undefined>>['maskError'];

export function createMaskError(logger: Logger): NonNullable<MaskError> {
  return (error, message) => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (isGatewayError(original)) {
      const gqlError = error instanceof GraphQLError ? error : undefined;
      return createGraphQLError(original.message, {
        nodes: gqlError?.nodes,
        path: gqlError?.path,
        extensions: {
          code: original.code,
          ...(original.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}),
        },
      });
    }
    if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
      return error;
    }
    logger.error({ err: original }, 'unexpected error while executing an operation');
    return createGraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}
