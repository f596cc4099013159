// A graphql-transport-ws client by hand, over the `ws` package, for what the graphql-ws client never
// does on purpose: break the protocol, send oversized frames, or watch close codes and pings. Every
// message is queued, so a test awaits the one it expects instead of racing the socket.
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { onTeardown } from './leftovers.js';
import { toWebSocketUrl } from './ws-client.js';

export interface RawMessage {
  type: MessageType;
  id?: string;
  payload?: unknown;
}

export interface RawClose {
  code: number;
  reason: string;
}

export interface RawWs {
  socket: WebSocket;
  /** Sends a value as one JSON text frame. */
  send(message: unknown): void;
  /** Sends a frame as it is (not JSON, or of a chosen size). */
  sendRaw(data: string): void;
  /**
   * The first message not yet taken that `match` accepts, received already or later. Rejects when
   * the socket closes first, naming the close code, so a test fails with a reason instead of a timeout.
   */
  take(match?: (message: RawMessage) => boolean): Promise<RawMessage>;
  /** Every message received, in order, taken or not. */
  readonly received: readonly RawMessage[];
  /** The close of the socket, from either side. */
  readonly closed: Promise<RawClose>;
  /** Sends `ping` and resolves at the `pong`: proof that the socket is open and the server still answers. */
  roundTrip(): Promise<void>;
}

/** Opens a socket with the graphql-transport-ws subprotocol; resolves once it is open. Sends nothing. */
export async function openRawWs(url: URL | string, protocol: string = GRAPHQL_TRANSPORT_WS_PROTOCOL): Promise<RawWs> {
  const socket = new WebSocket(toWebSocketUrl(url), protocol);
  onTeardown(() => socket.terminate());
  const received: RawMessage[] = [];
  const taken = new Set<RawMessage>();
  const waiters = new Set<{ match: (m: RawMessage) => boolean; resolve: (m: RawMessage) => void; reject: (e: Error) => void }>();
  let closeEvent: RawClose | undefined;

  const closed = new Promise<RawClose>((resolve) => {
    socket.once('close', (code, reason) => {
      closeEvent = { code, reason: reason.toString() };
      for (const waiter of waiters) waiter.reject(new Error(`socket closed (${code} ${reason.toString()}) before the expected message`));
      waiters.clear();
      resolve(closeEvent);
    });
  });
  socket.on('message', (raw: Buffer) => {
    const message = JSON.parse(raw.toString()) as RawMessage;
    received.push(message);
    for (const waiter of waiters) {
      if (waiter.match(message)) {
        waiters.delete(waiter);
        taken.add(message);
        waiter.resolve(message);
        return;
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  // After the handshake an error (a reset, a malformed frame) also ends in `close`, which is what tests observe.
  socket.on('error', () => undefined);

  const take = (match: (message: RawMessage) => boolean = () => true) => {
    const found = received.find((m) => !taken.has(m) && match(m));
    if (found) {
      taken.add(found);
      return Promise.resolve(found);
    }
    if (closeEvent) return Promise.reject(new Error(`socket closed (${closeEvent.code} ${closeEvent.reason}) before the expected message`));
    return new Promise<RawMessage>((resolve, reject) => waiters.add({ match, resolve, reject }));
  };

  return {
    socket,
    send: (message) => socket.send(JSON.stringify(message)),
    sendRaw: (data) => socket.send(data),
    take,
    received,
    closed,
    async roundTrip() {
      socket.send(JSON.stringify({ type: MessageType.Ping }));
      await take((m) => m.type === MessageType.Pong);
    },
  };
}

/** Opens a socket, sends `connection_init` (with the key, if any) and resolves after the ack. */
export async function connectRawWs(url: URL | string, key?: string): Promise<RawWs> {
  const ws = await openRawWs(url);
  ws.send({ type: MessageType.ConnectionInit, ...(key === undefined ? {} : { payload: { authorization: `Bearer ${key}` } }) });
  await ws.take((m) => m.type === MessageType.ConnectionAck);
  return ws;
}

/** Matches the messages of one operation id, optionally of one type. */
export const forOperation =
  (id: string, type?: MessageType) =>
  (message: RawMessage): boolean =>
    message.id === id && (type === undefined || message.type === type);
