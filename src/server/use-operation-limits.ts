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
const SUGGESTION_START = 'Did you mean ';
const SUGGESTION_HIDDEN = '[Suggestion hidden]';
/** Characters kept of a quoted value that a message echoes (graphql-js quotes strings with JSON.stringify). */
const MAX_ECHOED_CHARS = 200;
/** A message still longer after that (an unquoted object key, say) is cut here. */
const MAX_MESSAGE_CHARS = 2_000;

/**
 * Every `Did you mean …?` up to the next "?", as `/Did you mean [^?]*\?/g` would, but without its
 * backtracking: a regex tries each "Did you mean " to the end of the message when no "?" follows,
 * which is quadratic in a value that repeats the phrase (60 KB took 0.9 s). Here a missing "?"
 * ends the search, since no later hint can have one either.
 */
function hideSuggestions(message: string): string {
  let start = message.indexOf(SUGGESTION_START);
  if (start === -1) return message;
  let scrubbed = '';
  let copied = 0;
  while (start !== -1) {
    const end = message.indexOf('?', start + SUGGESTION_START.length);
    if (end === -1) break;
    scrubbed += message.slice(copied, start) + SUGGESTION_HIDDEN;
    copied = end + 1;
    start = message.indexOf(SUGGESTION_START, copied);
  }
  return scrubbed + message.slice(copied);
}

const cutMark = (length: number) => `… (${length} characters)`;

/** Where to cut so that neither an escape's backslash nor half a surrogate pair is left at the end. */
function cutAt(message: string, from: number, keep: number): number {
  let at = from + keep;
  while (at > from && (message[at - 1] === '\\' || /* high surrogate */ (message.charCodeAt(at - 1) & 0xfc00) === 0xd800)) at -= 1;
  return at;
}

/** Cuts each double-quoted literal longer than MAX_ECHOED_CHARS, in one pass; the quotes stay. */
function capEchoedValues(message: string): string {
  if (message.length <= MAX_ECHOED_CHARS) return message;
  let capped = '';
  let copied = 0;
  for (let open = message.indexOf('"'); open !== -1; ) {
    let close = open + 1;
    while (close < message.length && message[close] !== '"') close += message[close] === '\\' ? 2 : 1;
    close = Math.min(close, message.length);
    const length = close - open - 1;
    if (length > MAX_ECHOED_CHARS) {
      capped += message.slice(copied, cutAt(message, open + 1, MAX_ECHOED_CHARS)) + cutMark(length);
      copied = close;
    }
    open = close + 1 < message.length ? message.indexOf('"', close + 1) : -1;
  }
  if (copied === 0) return message;
  return capped + message.slice(copied);
}

/**
 * A production error message as the client gets it: hints hidden first (so no cut can leave half a
 * hint behind), then the values it echoes cut short, then the whole cut if still long. Linear time.
 */
export function scrubErrorMessage(message: string): string {
  const scrubbed = capEchoedValues(hideSuggestions(message));
  if (scrubbed.length <= MAX_MESSAGE_CHARS) return scrubbed;
  return scrubbed.slice(0, cutAt(scrubbed, 0, MAX_MESSAGE_CHARS)) + cutMark(scrubbed.length);
}

/**
 * "Did you mean …?" hints map the schema for an attacker when introspection is off. Armor's filter
 * misses the enum-value phrasing and sees only validation, while variables are coerced (and their
 * typos answered with hints) at execution, so every error message is scrubbed here. The values a
 * message echoes are cut short on the way, so a 60 KB variable is not sent back twice over.
 */
function useHiddenSuggestions(): EnvelopPlugin {
  const scrub = (errors: readonly Error[] | undefined) => {
    for (const error of errors ?? []) {
      // Error masking may answer with the wrapped original, so it is scrubbed too.
      for (let e: Error | undefined = error; e; e = (e as Partial<GraphQLError>).originalError ?? undefined) {
        e.message = scrubErrorMessage(e.message);
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
