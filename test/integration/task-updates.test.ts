import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { TASK_UPDATED, type TaskFields } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import type { CollectedSubscription } from '../helpers/subscription-collector.js';
import {
  generateTask,
  graphqlErrorsOf,
  isStatus,
  lastTaskOf,
  readAccount,
  statusesOf,
  statusOf,
  withPollerHeld,
  type TaskUpdatedData,
} from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';
import { CHEAP, FAST_POLLING, PRICE } from '../helpers/task-flows.js';


type Subscribe = (url: URL, key: string | undefined, id: string) => CollectedSubscription<TaskUpdatedData>;

const transports: [string, Subscribe][] = [
  ['WebSocket', (url, key, id) => createWsClient(url, { key }).subscribe<TaskUpdatedData>(TASK_UPDATED, { id })],
  ['SSE', (url, key, id) => subscribeSse<TaskUpdatedData>(url, TASK_UPDATED, { id }, { key })],
];

let t: TestGateway;
const klingClock = createKlingClock();
/** Seconds a simulated task takes, in the simulator's time. */
const TASK_MS = 1_000;

beforeAll(async () => {
  t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: TASK_MS / 1000, ...simulatorClockOptions(klingClock) } });
});

afterEach(() => {
  klingClock.resume();
});

/**
 * Submits a task with Kling's time stopped and subscribes while the poller is held, so the
 * subscriber joins while the task is SUBMITTED, and it stays SUBMITTED until the test moves Kling on.
 */
async function submitAndWatch(subscribe: Subscribe, key: string, input: Record<string, unknown>) {
  klingClock.pause();
  return withPollerHeld(t, async () => {
    const task = await generateTask(t, key, input);
    const updates = subscribe(t.url, key, task.id);
    await updates.until(() => true);
    return { task, updates };
  });
}

/** Moves Kling's task into processing, waits for the gateway to notice, then moves it to its end. */
async function stepThroughKling(updates: CollectedSubscription<TaskUpdatedData>) {
  klingClock.advance(TASK_MS / 2);
  await updates.until(isStatus('PROCESSING'));
  klingClock.advance(TASK_MS);
  return updates.done;
}

describe.each(transports)('taskUpdated over %s', (_transport, subscribe) => {
  it('streams SUBMITTED, PROCESSING, SUCCEEDED from the current state, then completes with the video and the charge', async () => {
    const key = await t.createKey(1_000);
    const { task, updates } = await submitAndWatch(subscribe, key, { prompt: 'A paper boat on a stream', ...CHEAP });
    expect(task).toMatchObject({ status: 'SUBMITTED', credits: PRICE, creditsCharged: 0 });

    const outcome = await stepThroughKling(updates);
    expect(outcome.end).toBe('complete');
    expect(outcome.results.flatMap((payload) => payload.errors ?? [])).toEqual([]);
    expect(statusesOf(outcome)).toEqual(['SUBMITTED', 'PROCESSING', 'SUCCEEDED']);
    expect(outcome.results.map((payload) => payload.data?.taskUpdated.id)).toEqual([task.id, task.id, task.id]);

    const done = lastTaskOf(outcome) as TaskFields;
    expect(done).toMatchObject({ creditsCharged: PRICE, failure: null, queuePosition: null });
    expect(done.completedAt).not.toBeNull();
    expect(done.videos).toHaveLength(1);
    const video = await fetch(done.videos[0]?.url ?? '');
    expect(video.status).toBe(200);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await video.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');

    expect(await readAccount(t, key)).toEqual({ name: 'test', creditBalance: 1_000 - PRICE, creditsHeld: 0, creditsUsed: PRICE });
  });

  it('ends a [[fail]] prompt FAILED with a CONTENT_POLICY failure and returns the whole hold', async () => {
    const key = await t.createKey(500);
    const { updates } = await submitAndWatch(subscribe, key, { prompt: 'A storm [[fail]] at sea', ...CHEAP });

    const outcome = await stepThroughKling(updates);
    expect(outcome.end).toBe('complete');
    expect(statusesOf(outcome)).toEqual(['SUBMITTED', 'PROCESSING', 'FAILED']);
    expect(lastTaskOf(outcome)).toMatchObject({
      creditsCharged: 0,
      videos: [],
      failure: { code: 'CONTENT_POLICY', retryable: false, message: expect.stringMatching(/\S/) as string },
    });
    expect(await readAccount(t, key)).toEqual({ name: 'test', creditBalance: 500, creditsHeld: 0, creditsUsed: 0 });
  });

  it("answers another key's task exactly like an unknown id: an error that ends the operation", async () => {
    const owner = await t.createKey(1_000);
    const stranger = await t.createKey(1_000);
    const task = await generateTask(t, owner, { prompt: 'Private harbour at night', ...CHEAP });
    const unknownId = 'vt_doesnotexist0000000000';

    const foreign = await subscribe(t.url, stranger, task.id).done;
    const unknown = await subscribe(t.url, stranger, unknownId).done;

    for (const outcome of [foreign, unknown]) {
      expect(outcome.results.map((payload) => payload.data?.taskUpdated ?? null).filter(Boolean)).toEqual([]);
      expect(graphqlErrorsOf(outcome).map((error) => error.extensions?.['code'])).toEqual(['NOT_FOUND']);
    }
    // Same words for both, so a stranger cannot tell that the id exists.
    const [foreignError] = graphqlErrorsOf(foreign);
    const [unknownError] = graphqlErrorsOf(unknown);
    expect(foreignError?.message.replace(task.id, '<id>')).toBe(unknownError?.message.replace(unknownId, '<id>'));
    expect(foreign.end).toBe(unknown.end);
  });

  it('refuses taskUpdated without a key with UNAUTHENTICATED', async () => {
    const owner = await t.createKey(1_000);
    const task = await generateTask(t, owner, { prompt: 'A quiet library', ...CHEAP });

    const outcome = await subscribe(t.url, undefined, task.id).done;
    expect(graphqlErrorsOf(outcome).map((error) => error.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
    expect(outcome.results.some((payload) => payload.data?.taskUpdated)).toBe(false);
  });
});

describe('taskUpdated for a task Kling never finishes', () => {
  let slow: TestGateway;

  beforeAll(async () => {
    slow = await startGateway({
      env: { ...FAST_POLLING, TASK_DEADLINE_SECONDS: '1' },
      simulator: { taskSeconds: 0.3, faults: { slowTaskRate: 1, slowTaskSeconds: 600 } },
    });
  });

  // Concurrent: both wait out the same one-second deadline.
  // Kling holds the task and will bill it, so the deadline charges it: refunding it would lose the money.
  it.concurrent.for(transports)('ends it TIMED_OUT with a TIMEOUT failure and charges it, as Kling does, over %s', async ([, subscribe], ctx) => {
    const key = await slow.createKey(300);
    const task = await generateTask(slow, key, { prompt: 'A glacier calving, slowly', ...CHEAP });
    const outcome = await subscribe(slow.url, key, task.id).done;

    ctx.expect(outcome.end).toBe('complete');
    ctx.expect(statusesOf(outcome)).toEqual(['SUBMITTED', 'TIMED_OUT']);
    ctx.expect(lastTaskOf(outcome)).toMatchObject({ creditsCharged: PRICE, videos: [], failure: { code: 'TIMEOUT' } });
    ctx.expect(await readAccount(slow, key)).toEqual({ name: 'test', creditBalance: 300 - PRICE, creditsHeld: 0, creditsUsed: PRICE });
  });
});

describe('taskUpdated over WebSocket: connection rules', () => {
  it.each([
    ['an unknown key', { key: 'kgw_notarealkeynotarealkeynotarealkey0000000' }],
    ['a malformed authorization', { authorization: 'Basic c29tZTp0aGluZw==' }],
  ])('closes the socket with 4403 for %s', async (_label, options) => {
    const ws = createWsClient(t.url, options);
    const updates = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: 'vt_doesnotexist0000000000' });
    expect(await ws.closed).toMatchObject({ code: 4403 });
    expect((await updates.done).end).toBe('error');
    expect(ws.connections).toBe(0);
  });

  it('answers taskUpdated without a key with UNAUTHENTICATED and still serves models on the same socket', async () => {
    const owner = await t.createKey(1_000);
    const task = await generateTask(t, owner, { prompt: 'A lantern festival', ...CHEAP });
    const ws = createWsClient(t.url);

    const refused = await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id }).done;
    expect(graphqlErrorsOf(refused).map((error) => error.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);

    const models = await ws.subscribe<{ models: { model: string }[] }>('{ models { model } }').done;
    expect(models.end).toBe('complete');
    expect(models.results[0]?.data?.models).toHaveLength(9);
    expect(ws.connections).toBe(1);
  });

  it.each([
    ['a syntax error', 'subscription { taskUpdated(id: "x") {'],
    ['an unknown field', 'subscription { taskUpdated(id: "x") { id colour } }'],
    ['a missing argument', 'subscription { taskUpdated { id } }'],
  ])('rejects %s for that operation alone and keeps the socket open for the next one', async (_label, query) => {
    const key = await t.createKey(1_000);
    const task = await generateTask(t, key, { prompt: 'Fireflies in a jar', ...CHEAP });
    const ws = createWsClient(t.url, { key });

    const invalid = await ws.subscribe(query).done;
    expect(invalid.end).toBe('error');
    expect(graphqlErrorsOf(invalid).length).toBeGreaterThan(0);
    expect(invalid.results).toEqual([]);

    const valid = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    const first = await valid.until(() => true);
    expect(first.errors).toBeUndefined();
    expect(first.data?.taskUpdated.id).toBe(task.id);
    expect(statusOf(first)).toMatch(/^(SUBMITTED|PROCESSING|SUCCEEDED)$/);
    expect(ws.connections).toBe(1);
  });
});
