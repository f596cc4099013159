// The real graphql-ws client over the `ws` package, as an app would use it, wrapped for tests: each
// subscription collects its payloads, and the socket's close code is kept. Disposed after the file.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { operationText, type Operation } from './document.js';
import { onTeardown } from './leftovers.js';
import { createCollector, type CollectedSubscription } from './subscription-collector.js';

export interface WsClientOptions {
  /** Sent as `connectionParams.authorization = "Bearer <key>"`; no connection params when absent. */
  key?: string | undefined;
  /** Sent as `connectionParams.authorization` as it is, for malformed values. */
  authorization?: string | undefined;
  /**
   * Connect at once and keep the one socket open while no operation runs, so a test can tell that
   * an operation was rejected without losing the socket. With `true` the client connects on the
   * first operation and closes the socket when the last one ends.
   * @default false
   */
  lazy?: boolean;
}

export interface SocketClose {
  code: number;
  reason: string;
}

export interface WsSubscription<TData> extends CollectedSubscription<TData> {
  /** Completes the operation from the client side (graphql-ws sends `complete`). */
  unsubscribe(): void;
}

export interface TestWsClient {
  client: Client;
  /** Runs any operation (subscription, query or mutation) and collects its payloads. */
  subscribe<TData = Record<string, unknown>>(operation: Operation, variables?: Record<string, unknown>): WsSubscription<TData>;
  /** The first close of the socket, with its code. */
  readonly closed: Promise<SocketClose>;
  /** How many times the server acknowledged a connection; stays 1 while the client keeps its socket. */
  readonly connections: number;
  dispose(): Promise<void>;
}

/** Turns the gateway's `http://…/graphql` URL into the matching `ws://…/graphql`. */
export function toWebSocketUrl(url: URL | string): string {
  const ws = new URL(url);
  ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
  return ws.toString();
}

export function createWsClient(url: URL | string, options: WsClientOptions = {}): TestWsClient {
  const authorization = options.authorization ?? (options.key === undefined ? undefined : `Bearer ${options.key}`);
  let connections = 0;
  let onClosed: (close: SocketClose) => void = () => undefined;
  const closed = new Promise<SocketClose>((resolve) => {
    onClosed = resolve;
  });

  const client = createClient({
    url: toWebSocketUrl(url),
    webSocketImpl: WebSocket,
    // Fail right away: a test must see the first close, not a reconnect that hides it.
    retryAttempts: 0,
    lazy: options.lazy ?? false,
    // The non-lazy connection's failure is observed through `closed`; the default would print it.
    onNonLazyError: () => undefined,
    ...(authorization === undefined ? {} : { connectionParams: { authorization } }),
    on: {
      connected: () => {
        connections += 1;
      },
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: unknown };
        onClosed({ code, reason: String(reason) });
      },
    },
  });

  let disposed: Promise<void> | undefined;
  const dispose = () => {
    disposed ??= Promise.resolve(client.dispose());
    return disposed;
  };
  onTeardown(dispose);

  return {
    client,
    closed,
    get connections() {
      return connections;
    },
    dispose,
    subscribe<TData>(operation: Operation, variables?: Record<string, unknown>): WsSubscription<TData> {
      const query = operationText(operation);
      const collector = createCollector<TData>();
      const unsubscribe = client.subscribe<TData>(variables === undefined ? { query } : { query, variables }, {
        next: (payload) => collector.push(payload),
        complete: () => collector.finish('complete'),
        error: (error) => collector.finish('error', error),
      });
      return {
        ...collector.collected,
        unsubscribe() {
          collector.finish('aborted');
          unsubscribe();
        },
      };
    },
  };
}
