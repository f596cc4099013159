// One GraphQL-over-WebSocket subscription per socket, as a browser tab holds it, kept as small as the
// protocol allows: a bench process holds ten thousand of these, and the graphql-ws client's retry and
// lazy-connect machinery per socket would only cost the load generator time it should spend receiving.
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';

export interface SubscriberOptions {
  /** ws:// URL of the GraphQL endpoint. */
  url: string;
  connectionParams?: Record<string, unknown>;
  query: string;
  variables: Record<string, unknown>;
  /** Every `next` payload, in order. */
  onNext: (payload: unknown) => void;
  /** An `error` message, or the socket closing before `complete`. */
  onError: (reason: string) => void;
}

export interface Subscriber {
  close(): void;
}

/** Resolves once the server acknowledged the connection and the subscribe message is sent. */
export function openSubscriber(options: SubscriberOptions): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(options.url, GRAPHQL_TRANSPORT_WS_PROTOCOL, { perMessageDeflate: false });
    let acknowledged = false;
    let closing = false;
    const subscriber: Subscriber = {
      close: () => {
        closing = true;
        socket.terminate();
      },
    };

    socket.once('open', () => {
      socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: options.connectionParams ?? {} }));
    });
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: MessageType; payload?: unknown };
      switch (message.type) {
        case MessageType.ConnectionAck:
          acknowledged = true;
          socket.send(JSON.stringify({ id: '1', type: MessageType.Subscribe, payload: { query: options.query, variables: options.variables } }));
          resolve(subscriber);
          return;
        case MessageType.Next:
          options.onNext(message.payload);
          return;
        case MessageType.Error:
          options.onError(JSON.stringify(message.payload));
          return;
        case MessageType.Ping:
          socket.send(JSON.stringify({ type: MessageType.Pong }));
          return;
        default:
          return;
      }
    });
    socket.once('error', (error) => {
      if (!acknowledged) reject(error);
    });
    socket.once('close', (code, reason) => {
      if (!acknowledged) reject(new Error(`closed before connection_ack: ${code} ${reason.toString()}`));
      else if (!closing) options.onError(`socket closed: ${code} ${reason.toString()}`);
    });
  });
}
