// Limits on the shape of an operation (GraphQL Armor): depth, cost, aliases, tokens, directives.
// Introspection is exempt from depth and cost so GraphiQL and codegen keep working.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Config } from '../config/env.js';

type EnvelopPlugin = ReturnType<typeof EnvelopArmorPlugin>;

/**
 * graphql-js parses and validates recursively, and Armor's visitors follow fragment spreads the same
 * way, so a document nested deeper than the stack overflows it before any limit answers: about 1,900
 * unclosed `[` fit within the default 2,000 tokens. That is the client's mistake, not an internal
 * error to mask and log with a stack trace.
 */
function useStackOverflowGuard(): EnvelopPlugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        // yoga's own hook, which marks parse errors as 400s, ran first and saw only a RangeError.
        if (result instanceof RangeError)
          replaceParseResult(
            new GraphQLError('Syntax Error: The document is nested too deeply.', {
              extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } },
            }),
          );
      };
    },
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((...args) => {
        try {
          // Envelop types the validate function loosely; graphql's validate returns its errors.
          return validateFn(...args) as readonly GraphQLError[];
        } catch (error) {
          if (error instanceof RangeError) return [new GraphQLError('The operation is nested too deeply to validate.')];
          throw error;
        }
      });
    },
  };
}

/**
 * By default Armor throws its rejection out of validation. yoga then answers 200 even to
 * `application/graphql-response+json`, and graphql-ws closes the whole socket with 4500. Reported as a
 * validation error instead, it rejects just this one operation: 400 over HTTP, an `error` message over
 * WebSocket. The "Syntax Error:" prefix Armor adds is dropped, because the document parsed fine.
 */
const reportRejection = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''))),
  ],
};

/** graphql-js's hints: `Did you mean "me"?` and `Did you mean the enum value "KLING_V1", or "KLING_V3"?`. */
const SUGGESTION = /Did you mean [^?]*\?/g;

/**
 * "Did you mean …?" hints map the schema for an attacker when introspection is off. Armor's filter
 * misses the enum-value phrasing and sees only validation, while variables are coerced (and their
 * typos answered with hints) at execution, so every error message is scrubbed here.
 */
function useHiddenSuggestions(): EnvelopPlugin {
  const scrub = (errors: readonly Error[] | undefined) => {
    for (const error of errors ?? []) {
      // Error masking may answer with the wrapped original, so it is scrubbed too.
      for (let e: Error | undefined = error; e; e = (e as Partial<GraphQLError>).originalError ?? undefined) {
        e.message = e.message.replace(SUGGESTION, '[Suggestion hidden]');
      }
    }
  };
  const scrubResult = (result: unknown) => {
    if (typeof result === 'object' && result !== null && 'errors' in result) scrub(result.errors as readonly Error[]);
  };
  return {
    onValidate: () => ({ result }) => scrub(result),
    onExecute: () => ({ onExecuteDone: ({ result }) => scrubResult(result) }),
    onSubscribe: () => ({ onSubscribeResult: ({ result }) => scrubResult(result) }),
  };
}

export function useOperationLimits(limits: Config['limits'], production: boolean): EnvelopPlugin {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...reportRejection },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true, ...reportRejection },
    maxAliases: { n: limits.maxAliases, ...reportRejection },
    maxTokens: { n: limits.maxTokens },
    maxDirectives: { n: limits.maxDirectives, ...reportRejection },
    // Replaced by useHiddenSuggestions, which also knows graphql-js's other phrasing and variable errors.
    blockFieldSuggestion: { enabled: false },
  });
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor);
      addPlugin(useStackOverflowGuard());
      if (production) addPlugin(useHiddenSuggestions());
    },
  };
}
