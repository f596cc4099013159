import { beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { TaskEventTarget } from '../../src/tasks/pubsub.js';
import { operationText } from '../helpers/document.js';
import { CANCEL_VIDEO_TASK, TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask, isStatus, statusesOf, type TaskUpdatedData } from '../helpers/task-flows.js';
import { createWsClient, toWebSocketUrl } from '../helpers/ws-client.js';
import { onTeardown } from '../helpers/leftovers.js';
import { CountingEventTarget } from '../helpers/counting-event-target.js';
import { CHEAP } from '../helpers/task-flows.js';

const eventTarget = new CountingEventTarget();
const listenersOf = (taskId: string) => eventTarget.listenersOfTask(taskId);
/** The listener goes away on the server's own schedule; this waits for that, not for a guessed time. */
const noListenerLeftFor = (taskId: string) => vi.waitFor(() => expect(listenersOf(taskId)).toBe(0), { timeout: 5_000 });


let t: TestGateway;

beforeAll(async () => {
  t = await startGateway({
    env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' },
    // A minute-long task stays open for as long as any test here needs it to.
    simulator: { taskSeconds: 60 },
    overrides: { eventTarget: eventTarget as unknown as TaskEventTarget },
  });
});

async function openTask(key: string) {
  return generateTask(t, key, { prompt: 'A candle that never burns down', ...CHEAP });
}

/**
 * A graphql-transport-ws client by hand, for what the graphql-ws client never does: vanish without
 * a close frame. Resolves once the first `next` arrived.
 */
async function rawSubscription(key: string, taskId: string): Promise<WebSocket> {
  const socket = new WebSocket(toWebSocketUrl(t.url), 'graphql-transport-ws');
  onTeardown(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString()) as { type: string };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: operationText(TASK_UPDATED), variables: { id: taskId } } }));
      } else if (message.type === 'next') resolve();
      else if (message.type === 'error' || message.type === 'complete') reject(new Error(`unexpected ${raw.toString()}`));
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
  });
  return socket;
}

describe('taskUpdated listeners over WebSocket', () => {
  it('removes the listener when the client unsubscribes, and keeps the socket', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const ws = createWsClient(t.url, { key });
    const updates = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    await updates.until(() => true);
    expect(listenersOf(task.id)).toBe(1);

    updates.unsubscribe();
    await noListenerLeftFor(task.id);
    const models = await ws.subscribe('{ models { model } }').done;
    expect(models.end).toBe('complete');
    expect(ws.connections).toBe(1);
  });

  it('removes the listener when the client closes the socket', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const ws = createWsClient(t.url, { key });
    await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id }).until(() => true);
    expect(listenersOf(task.id)).toBe(1);

    await ws.dispose();
    await noListenerLeftFor(task.id);
  });

  it('removes the listener when the connection drops without a close frame', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const socket = await rawSubscription(key, task.id);
    expect(listenersOf(task.id)).toBe(1);

    socket.terminate();
    await noListenerLeftFor(task.id);
  });

  it('keeps one listener per subscriber and removes only the one that left', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const staying = createWsClient(t.url, { key }).subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    const leaving = createWsClient(t.url, { key }).subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    await Promise.all([staying.until(() => true), leaving.until(() => true)]);
    // The instance listens to the task once on the event target, for both of its subscribers.
    const subscribersOf = (taskId: string) => t.gateway.pubsub.listenerCount(taskId);
    expect([subscribersOf(task.id), listenersOf(task.id)]).toEqual([2, 1]);

    leaving.unsubscribe();
    await vi.waitFor(() => expect([subscribersOf(task.id), listenersOf(task.id)]).toEqual([1, 1]), { timeout: 5_000 });

    // The one that stayed still hears the next change, and both are gone once the task ends.
    await t.graphql(CANCEL_VIDEO_TASK, { id: task.id }, key);
    const outcome = await staying.done;
    expect(outcome.end).toBe('complete');
    expect(statusesOf(outcome).at(-1)).toBe('CANCELED');
    await noListenerLeftFor(task.id);
  });

  it('removes the listener when the task ends and the server completes the subscription', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const updates = createWsClient(t.url, { key }).subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    await updates.until(isStatus('SUBMITTED', 'PROCESSING'));

    await t.graphql(CANCEL_VIDEO_TASK, { id: task.id }, key);
    expect((await updates.done).end).toBe('complete');
    await noListenerLeftFor(task.id);
  });

  it('leaves no listener behind for a task the key may not see', async () => {
    const owner = await t.createKey(1_000);
    const stranger = await t.createKey(1_000);
    const task = await openTask(owner);
    const outcome = await createWsClient(t.url, { key: stranger }).subscribe(TASK_UPDATED, { id: task.id }).done;
    expect(outcome.end).toBe('error');
    await noListenerLeftFor(task.id);
  });
});

describe('taskUpdated listeners over SSE', () => {
  it('removes the listener when the client aborts the request', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const updates = subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key });
    await updates.until(() => true);
    expect(listenersOf(task.id)).toBe(1);

    updates.abort();
    await noListenerLeftFor(task.id);
  });

  it('removes the listener when the task ends and the stream completes', async () => {
    const key = await t.createKey(1_000);
    const task = await openTask(key);
    const updates = subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key });
    await updates.until(() => true);

    await t.graphql(CANCEL_VIDEO_TASK, { id: task.id }, key);
    expect((await updates.done).end).toBe('complete');
    await noListenerLeftFor(task.id);
  });
});
