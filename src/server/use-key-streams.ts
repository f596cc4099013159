// SSE subscriptions count against their key's stream cap (with its WebSockets and MCP waits), and
// end when the key is revoked. WebSocket operations are left alone: their socket is what counts,
// and revocation closes it.
import type { ExecutionResult } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../schema/context.js';
import { tooManyStreamsMessage, type KeyStreams } from './key-streams.js';
import { endOnAbort } from './operation-drain.js';
import { isWebSocketContext } from './use-operation-telemetry.js';

export function tooManyStreamsError(maxPerKey: number) {
  return createGraphQLError(tooManyStreamsMessage(maxPerKey), {
    extensions: { code: 'TOO_MANY_STREAMS', http: { status: 429 } },
  });
}

export function keyRevokedError() {
  return createGraphQLError('The API key was revoked.', { extensions: { code: 'UNAUTHENTICATED' } });
}

/**
 * Passes `source` through and calls `release` once, however it ends: done, failed, or returned by the
 * client going away (at once, even before the first next(), which an async generator would not do).
 */
function releasedWhenDone<T>(source: AsyncIterableIterator<T>, release: () => void): AsyncIterableIterator<T> {
  const settle = <R>(result: Promise<IteratorResult<T, R>>) =>
    result.then(
      (r) => {
        if (r.done) release();
        return r;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => settle(source.next()),
    return: (value?: unknown) => {
      release();
      return source.return ? source.return(value) : Promise.resolve({ done: true, value: undefined });
    },
    throw: (error?: unknown) => {
      release();
      return source.throw ? source.throw(error) : Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
  };
}

export function useKeyStreams(keyStreams: KeyStreams): Plugin<GatewayContext> {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const context = args.contextValue;
      if (isWebSocketContext(context) || context.apiKeyId === null) return undefined;
      const revoked = new AbortController();
      const release = keyStreams.acquire(context.apiKeyId, () => revoked.abort());
      if (!release) {
        setResultAndStopExecution({ errors: [tooManyStreamsError(keyStreams.maxPerKey)] });
        return undefined;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          // Refused or failed before streaming: nothing stays open.
          if (!isAsyncIterable(result)) {
            release();
            return;
          }
          const farewell: ExecutionResult = { errors: [keyRevokedError()] };
          setResult(releasedWhenDone(endOnAbort(result, revoked.signal, farewell), release));
        },
      };
    },
  };
}
