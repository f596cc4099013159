// What shutdown needs from GraphQL: refuse new operations, know when the running ones are done, and end
// the subscriptions that stream over SSE. WebSocket subscriptions are left to graphql-ws, whose dispose
// closes each socket with 1001 (going away), which a client takes as "reconnect", not "done".
import { setMaxListeners } from 'node:events';
import { Repeater } from '@graphql-yoga/subscription';
import type { ExecutionResult } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { isWebSocketContext } from './use-operation-telemetry.js';

export function shuttingDownError() {
  return createGraphQLError('The gateway is shutting down; send the operation again.', {
    extensions: { code: 'SHUTTING_DOWN', http: { status: 503 } },
  });
}

/**
 * Passes `source` through until `signal` aborts, then ends with one payload that says why, so an SSE
 * client can tell a shutdown from a finished subscription and subscribe again elsewhere.
 */
export function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal, farewell: T): AsyncIterableIterator<T> {
  return new Repeater<T>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]();
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    const stopped = stop.then(() => 'stopped' as const);
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted, stopped]);
        if (next === 'stopped') return;
        if (next === 'aborted') {
          await push(farewell);
          return;
        }
        if (next.done) return;
        await push(next.value);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop();
      await iterator.return?.();
    }
  });
}

export function createOperationDrain() {
  const draining = new AbortController();
  // Every open SSE subscription listens on this one signal; there are many by design.
  setMaxListeners(0, draining.signal);
  let running = 0;
  const idleWaiters = new Set<() => void>();
  const farewell: ExecutionResult = { errors: [shuttingDownError()] };

  const plugin: Plugin = {
    onExecute({ executeFn, setExecuteFn, setResultAndStopExecution }) {
      if (draining.signal.aborted) {
        setResultAndStopExecution({ errors: [shuttingDownError()] });
        return;
      }
      setExecuteFn(async (args): Promise<unknown> => {
        running += 1;
        try {
          return (await executeFn(args)) as unknown;
        } finally {
          running -= 1;
          if (running === 0) {
            for (const wake of idleWaiters) wake();
            idleWaiters.clear();
          }
        }
      });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (draining.signal.aborted) {
        setResultAndStopExecution({ errors: [shuttingDownError()] });
        return undefined;
      }
      if (isWebSocketContext(args.contextValue)) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endOnAbort(result, draining.signal, farewell));
        },
      };
    },
  };

  return {
    plugin,
    /** Refuses new operations from now on and ends every SSE subscription. */
    begin() {
      draining.abort();
    },
    /** Resolves once no query or mutation is executing. */
    settled(): Promise<void> {
      if (running === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.add(resolve));
    },
  };
}

export type OperationDrain = ReturnType<typeof createOperationDrain>;
