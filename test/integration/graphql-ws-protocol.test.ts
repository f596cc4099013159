// The graphql-transport-ws protocol as the gateway speaks it, driven by a raw `ws` client so every
// violation can be sent on purpose, and the WebSocket limits: message size, connections per key,
// operations per connection, the connection_init deadline and keep-alive pings.
import { CloseCode, MessageType } from 'graphql-ws';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CountingEventTarget } from '../helpers/counting-event-target.js';
import { operationText, type Operation } from '../helpers/document.js';
import { CANCEL_VIDEO_TASK, TASK_UPDATED } from '../helpers/operations.js';
import { connectRawWs, forOperation, openRawWs, type RawWs } from '../helpers/raw-ws.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask } from '../helpers/task-flows.js';

/** 1009: the `ws` package's answer to a frame larger than maxPayload. */
const MESSAGE_TOO_BIG = 1009;
/** 1008 (policy violation): what the gateway closes an API key's connection over the cap with. */
const POLICY_VIOLATION = 1008;
const MAX_PAYLOAD_BYTES = 65_536;
const MAX_CONNECTIONS_PER_KEY = 2;
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 2;

const events = new CountingEventTarget();
let t: TestGateway;
/** Short timers of its own, so the rest of the file never races them. */
let timers: TestGateway;

beforeAll(async () => {
  [t, timers] = await Promise.all([
    startGateway({
      env: {
        WS_MAX_CONNECTIONS_PER_KEY: String(MAX_CONNECTIONS_PER_KEY),
        WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBSCRIPTIONS_PER_CONNECTION),
      },
      // Tasks stay open for the whole file, so a taskUpdated subscription keeps running until ended.
      simulator: { taskSeconds: 60 },
      overrides: { eventTarget: events },
    }),
    startGateway({ env: { WS_CONNECTION_INIT_TIMEOUT_MS: '150', WS_KEEP_ALIVE_MS: '100' } }),
  ]);
});

const openTask = async (key: string) => generateTask(t, key, { prompt: 'A tide that never turns', model: 'KLING_V1' });
const subscribe = (ws: RawWs, id: string, operation: Operation, variables?: Record<string, unknown>) => {
  const query = operationText(operation);
  ws.send({ id, type: MessageType.Subscribe, payload: variables === undefined ? { query } : { query, variables } });
};

describe('the graphql-transport-ws protocol', () => {
  it('closes with 4408 a socket that sends no connection_init within WS_CONNECTION_INIT_TIMEOUT_MS', async () => {
    const ws = await openRawWs(timers.url);
    expect(await ws.closed).toMatchObject({ code: CloseCode.ConnectionInitialisationTimeout });
  });

  it('closes with 4429 a socket that sends connection_init twice', async () => {
    const ws = await connectRawWs(t.url, await t.createKey(100));
    ws.send({ type: MessageType.ConnectionInit });
    expect(await ws.closed).toMatchObject({ code: CloseCode.TooManyInitialisationRequests });
  });

  it('closes with 4401 a socket that subscribes before it was acknowledged', async () => {
    const ws = await openRawWs(t.url);
    subscribe(ws, '1', '{ __typename }');
    expect(await ws.closed).toMatchObject({ code: CloseCode.Unauthorized });
  });

  it('closes with 4409 a socket that reuses the id of a running subscription', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const ws = await connectRawWs(t.url, key);
    subscribe(ws, 'same', TASK_UPDATED, { id: task.id });
    await ws.take(forOperation('same', MessageType.Next));
    subscribe(ws, 'same', TASK_UPDATED, { id: task.id });
    expect(await ws.closed).toMatchObject({ code: CloseCode.SubscriberAlreadyExists });
  });

  it.each([
    ['text that is not JSON', 'not json'],
    ['a message of an unknown type', JSON.stringify({ type: 'subscribe_all' })],
    ['a subscribe without an id', JSON.stringify({ type: MessageType.Subscribe, payload: { query: '{ __typename }' } })],
    ['a subscribe without a query', JSON.stringify({ id: '1', type: MessageType.Subscribe, payload: {} })],
  ])('closes with 4400 a socket that sends %s', async (_what, frame) => {
    const ws = await connectRawWs(t.url, await t.createKey(100));
    ws.sendRaw(frame);
    expect(await ws.closed).toMatchObject({ code: CloseCode.BadRequest });
  });

  it.each([
    ['an unknown key', 'Bearer kgw_notAKeyAtAll'],
    ['a malformed authorization', 'Token abc'],
  ])('closes with 4403 a connection_init carrying %s', async (_what, authorization) => {
    const ws = await openRawWs(t.url);
    ws.send({ type: MessageType.ConnectionInit, payload: { authorization } });
    expect(await ws.closed).toMatchObject({ code: CloseCode.Forbidden });
    expect(ws.received.map((m) => m.type)).not.toContain(MessageType.ConnectionAck);
  });

  it.each([
    ['not valid GraphQL', '{ videoTask(', /^Syntax Error/],
    ['not valid against the schema', '{ nope }', /^Cannot query field "nope"/],
    ['over a limit', `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { name }`).join(' ')} }`, /^Aliases limit of 15 exceeded/],
  ])('answers an operation that is %s with an error message and keeps the socket open', async (_what, query, message) => {
    const ws = await connectRawWs(t.url, await t.createKey(100));
    subscribe(ws, 'bad', query);
    const error = await ws.take(forOperation('bad'));
    expect(error.type).toBe(MessageType.Error);
    expect((error.payload as { message: string }[])[0]?.message).toMatch(message);

    await ws.roundTrip();
    subscribe(ws, 'good', '{ me { name } }');
    expect(await ws.take(forOperation('good'))).toMatchObject({ type: MessageType.Next, payload: { data: { me: { name: 'test' } } } });
    expect(await ws.take(forOperation('good'))).toMatchObject({ type: MessageType.Complete });
  });

  it('answers ping with pong, before and after connection_init', async () => {
    const ws = await openRawWs(t.url);
    await ws.roundTrip();
    ws.send({ type: MessageType.ConnectionInit, payload: { authorization: `Bearer ${await t.createKey(100)}` } });
    await ws.take((m) => m.type === MessageType.ConnectionAck);
    await ws.roundTrip();
  });

  it('ends the server-side iterator when the client completes a subscription, and sends nothing more for it', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const ws = await connectRawWs(t.url, key);
    subscribe(ws, 'sub', TASK_UPDATED, { id: task.id });
    await ws.take(forOperation('sub', MessageType.Next));
    expect(events.listenersOfTask(task.id)).toBe(1);

    ws.send({ id: 'sub', type: MessageType.Complete });
    // The iterator's return() runs on the server's own schedule; wait for it rather than a guessed time.
    await vi.waitFor(() => expect(events.listenersOfTask(task.id)).toBe(0), { timeout: 5_000 });

    // A change after the completion reaches nobody; the socket itself is still open.
    await t.graphql(CANCEL_VIDEO_TASK, { id: task.id }, key);
    await ws.roundTrip();
    expect(ws.received.filter(forOperation('sub'))).toHaveLength(1);
  });
});

describe('WebSocket limits', () => {
  /** A subscribe frame of exactly `bytes` bytes, padded in `extensions`, which the gateway ignores. */
  const frameOf = (id: string, bytes: number) => {
    const bare = JSON.stringify({ id, type: MessageType.Subscribe, payload: { query: '{ __typename }', extensions: { pad: '' } } });
    return JSON.stringify({
      id,
      type: MessageType.Subscribe,
      payload: { query: '{ __typename }', extensions: { pad: 'x'.repeat(bytes - Buffer.byteLength(bare)) } },
    });
  };

  it('answers a message of exactly WS_MAX_PAYLOAD_BYTES and closes the socket with 1009 on a larger one', async () => {
    const ws = await connectRawWs(t.url, await t.createKey(100));
    ws.sendRaw(frameOf('fits', MAX_PAYLOAD_BYTES));
    expect(await ws.take(forOperation('fits'))).toMatchObject({ type: MessageType.Next, payload: { data: { __typename: 'Query' } } });

    ws.sendRaw(frameOf('too-big', MAX_PAYLOAD_BYTES + 1));
    expect(await ws.closed).toMatchObject({ code: MESSAGE_TOO_BIG });
  });

  it('closes a connection beyond WS_MAX_CONNECTIONS_PER_KEY with 1008, counts each key apart, and frees a slot on close', async () => {
    const key = await t.createKey(100);
    const open = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_KEY }, () => connectRawWs(t.url, key)));

    const extra = await openRawWs(t.url);
    extra.send({ type: MessageType.ConnectionInit, payload: { authorization: `Bearer ${key}` } });
    expect(await extra.closed).toEqual({ code: POLICY_VIOLATION, reason: 'Too many connections for this API key' });

    await connectRawWs(t.url, await t.createKey(100));

    open[0]?.socket.close();
    await open[0]?.closed;
    // The server releases the slot when it sees the close; try until it has, each try a real connection.
    await vi.waitFor(() => connectRawWs(t.url, key), { timeout: 5_000, interval: 20 });
  });

  it('answers an operation beyond WS_MAX_SUBSCRIPTIONS_PER_CONNECTION with a RATE_LIMITED error and keeps the socket', async () => {
    const key = await t.createKey(1_000);
    const tasks = [await openTask(key), await openTask(key)];
    const ws = await connectRawWs(t.url, key);
    for (const [i, task] of tasks.entries()) {
      subscribe(ws, `s${i}`, TASK_UPDATED, { id: task.id });
      expect(await ws.take(forOperation(`s${i}`))).toMatchObject({ type: MessageType.Next });
    }

    subscribe(ws, 'over', TASK_UPDATED, { id: tasks[0]?.id });
    const refused = await ws.take(forOperation('over'));
    expect(refused).toMatchObject({
      type: MessageType.Error,
      payload: [{ message: 'Too many operations on this connection.', extensions: { code: 'RATE_LIMITED' } }],
    });

    // Ending one frees its place on the same socket.
    ws.send({ id: 's0', type: MessageType.Complete });
    subscribe(ws, 'after', TASK_UPDATED, { id: tasks[0]?.id });
    expect(await ws.take(forOperation('after'))).toMatchObject({ type: MessageType.Next });
  });

  it('pings every WS_KEEP_ALIVE_MS, and a client that answers stays connected', async () => {
    const ws = await connectRawWs(timers.url, await timers.createKey(100));
    const pings = () => new Promise<void>((resolve) => ws.socket.once('ping', () => resolve()));
    await pings();
    await pings();
    await ws.roundTrip();
  });
});
