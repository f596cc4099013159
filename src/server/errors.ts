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

/** A client error in the operation's arguments or variables: a bad enum value, `first: -1`, a foreign cursor. */
export function badUserInputError(message: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

type MaskError = NonNullable<Exclude<YogaServerOptions<object, object>['maskedErrors'], boolean | undefined>>['maskError'];

/**
 * The executor's errors for variables it could not coerce: located at the variable, no path, and
 * marked 400 by graphql-tools' execute. Their message is graphql's own ("Variable "$input" got invalid
 * value … at "input.model"; …"), which also quotes a scalar's parse error; it is the client's input.
 */
function isVariableCoercionError(error: GraphQLError): boolean {
  const http: unknown = error.extensions['http'];
  return (
    error.path === undefined &&
    error.extensions['code'] === undefined &&
    error.message.startsWith('Variable "$') &&
    typeof http === 'object' &&
    http !== null &&
    (http as { status?: unknown }).status === 400
  );
}

export function createMaskError(logger: Logger): NonNullable<MaskError> {
  return (error, message) => {
    // Executors wrap a resolver's error in a located GraphQLError, sometimes twice.
    let original: unknown = error;
    while (isGraphQLError(original) && original.originalError) original = original.originalError;
    const located = isGraphQLError(error) ? error : undefined;
    if (isGatewayError(original)) {
      return createGraphQLError(original.message, {
        nodes: located?.nodes,
        path: located?.path,
        extensions: {
          code: original.code,
          ...(original.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}),
        },
      });
    }
    if (located && isVariableCoercionError(located)) {
      // spec: GraphQL over HTTP answers application/json with 200, application/graphql-response+json
      // with 400 (as yoga does for validation errors).
      return createGraphQLError(located.message, {
        nodes: located.nodes,
        source: located.source,
        positions: located.positions,
        extensions: { ...located.extensions, code: 'BAD_USER_INPUT', http: { status: 400, spec: true } },
      });
    }
    // A deliberate GraphQL error (ours or graphql's own) passes as it is: the outermost one, which
    // carries the full message, the location and the path (and the innermost one's extensions).
    if (located && isGraphQLError(original)) return located;
    logger.error({ err: original }, 'unexpected error while executing an operation');
    return createGraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };
}
