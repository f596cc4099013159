import { freeLoopbackPort } from '../helpers/free-port.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { TASK_UPDATED, type TaskFields } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import {
  generateTask,
  isStatus,
  klingIdOf,
  lastTaskOf,
  ledgerOf,
  readAccount,
  statusesOf,
  withPollerHeld,
  type TaskUpdatedData,
} from '../helpers/task-flows.js';
import { createWsClient, type TestWsClient } from '../helpers/ws-client.js';
import { NOT_FOUND_ANSWERS } from '../../src/kling/simulator/simulator.js';
import { CHEAP, PRICE } from '../helpers/task-flows.js';


/** A connected client, so a subscription right after a submit is one message away. */
async function connectedClient(t: TestGateway, key: string): Promise<TestWsClient> {
  const ws = createWsClient(t.url, { key });
  await ws.subscribe('{ __typename }').done;
  return ws;
}

describe('a task Kling loses', () => {
  let t: TestGateway;
  const klingClock = createKlingClock();
  const TASK_MS = 300;

  beforeAll(async () => {
    t = await startGateway({
      // Three not-found answers over 300 ms confirm a loss; production waits a minute.
      env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50', UPSTREAM_NOT_FOUND_ANSWERS: '3', UPSTREAM_NOT_FOUND_WINDOW_MS: '300' },
      simulator: { taskSeconds: TASK_MS / 1000, ...simulatorClockOptions(klingClock) },
    });
  });

  afterEach(() => {
    klingClock.resume();
    t.simulator.setLookups({ notFoundAnswer: 'code-1203', lookupLagMs: 0 });
  });

  // Kling documents no answer for an unknown task: each plausible shape must be read as "not found".
  it.for(
    NOT_FOUND_ANSWERS.flatMap((answer) => (['SUBMITTED', 'PROCESSING'] as const).map((state) => [state, answer] as const)),
  )('ends FAILED with UPSTREAM_TASK_LOST and a refund when lost while %s (Kling answers %s)', async ([state, answer]) => {
    t.simulator.setLookups({ notFoundAnswer: answer });
    const key = await t.createKey(1_000);
    const ws = await connectedClient(t, key);
    const lose = async (id: string) => expect(t.simulator.forgetTask(await klingIdOf(t, id))).toBe(true);
    // Kling's time stopped and the poller held: the subscriber surely joins while the task is SUBMITTED.
    klingClock.pause();
    const { task, updates } = await withPollerHeld(t, async () => {
      const submitted = await generateTask(t, key, { prompt: `Lost while ${state.toLowerCase()}`, ...CHEAP });
      const stream = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: submitted.id });
      await stream.until(isStatus('SUBMITTED'));
      if (state === 'SUBMITTED') await lose(submitted.id);
      return { task: submitted, updates: stream };
    });
    if (state === 'PROCESSING') {
      // Halfway through at Kling, where the stopped clock keeps it until the task is lost.
      klingClock.advance(TASK_MS / 2);
      await updates.until(isStatus('PROCESSING'));
      await lose(task.id);
    }

    const outcome = await updates.done;
    expect(outcome.end).toBe('complete');
    expect(statusesOf(outcome).slice(-2)).toEqual([state, 'FAILED']);
    expect(lastTaskOf(outcome)).toMatchObject({
      creditsCharged: 0,
      videos: [],
      failure: { code: 'UPSTREAM_TASK_LOST', retryable: true },
    });
    expect(await readAccount(t, key)).toEqual({ name: 'test', creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });
    expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: 0, refund: PRICE });
    // Confirmed over the window, by Kling's id and by ours, never on one answer.
    const row = await t.gateway.store.getTask(task.id);
    expect(row?.notFoundCount).toBeGreaterThanOrEqual(3);
    expect(t.simulator.stats.getsPerTaskId.get(task.id)).toBeGreaterThanOrEqual(3);
  });

  it('does not end a task Kling answers "not found" for a while and then shows', async () => {
    const key = await t.createKey(1_000);
    // Queries miss the new task for 200 ms of Kling's time: shorter than the 300 ms window.
    t.simulator.setLookups({ notFoundAnswer: 'empty-data', lookupLagMs: 200 });
    const task = await generateTask(t, key, { prompt: 'Seen late', ...CHEAP });
    const ws = await connectedClient(t, key);
    const outcome = await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id }).done;

    expect(outcome.end).toBe('complete');
    expect(lastTaskOf(outcome)).toMatchObject({ status: 'SUCCEEDED', creditsCharged: PRICE, failure: null });
    expect(t.simulator.stats.answersByCode.get(0)).toBeGreaterThan(0);
    expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
  });
});

describe("Kling's callbacks", () => {
  let t: TestGateway;

  beforeAll(async () => {
    const port = await freeLoopbackPort();
    t = await startGateway({
      env: {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // The poller would look a minute after submit: whatever moves a task sooner is a callback.
        POLL_FIRST_DELAY_MS: '60000',
        POLL_MAX_INTERVAL_MS: '60000',
      },
      // One second: the PROCESSING callback comes 0.1 s after submit, after the subscriber joined.
      simulator: { taskSeconds: 1 },
    });
  });

  const postCallback = (taskId: string, token: string, body: unknown) =>
    fetch(new URL(`/kling/callback/${taskId}/${token}`, t.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const rowOf = async (id: string) => {
    const row = await t.gateway.store.getTask(id);
    if (!row) throw new Error(`no task ${id}`);
    return row;
  };

  /** Runs a task to its end while only Kling's callbacks can move it. */
  async function runOnCallbacks(key: string, prompt: string) {
    const ws = await connectedClient(t, key);
    const task = await generateTask(t, key, { prompt, ...CHEAP });
    const outcome = await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id }).done;
    return { task, outcome, klingId: await klingIdOf(t, task.id) };
  }

  it('answers 404 to a callback with a wrong token and changes nothing', async () => {
    const key = await t.createKey(1_000);
    // A slow task: Kling itself stays quiet for the length of this test.
    t.simulator.setFaults({ slowTaskRate: 1, slowTaskSeconds: 600 });
    let task: TaskFields;
    try {
      task = await generateTask(t, key, { prompt: 'Forged news', ...CHEAP });
    } finally {
      t.simulator.setFaults({});
    }
    const other = await generateTask(t, key, { prompt: 'Someone else’s token', ...CHEAP });
    const before = await rowOf(task.id);
    const forged = {
      ...t.simulator.peekTask(await klingIdOf(t, task.id)),
      task_status: 'succeed',
      task_result: { videos: [{ id: 'forged', url: 'https://attacker.example/forged.mp4', duration: '5.1' }] },
    };

    const attempts = [
      [task.id, 'not-the-token'],
      [task.id, (await rowOf(other.id)).callbackToken],
      [task.id, `${before.callbackToken}x`],
      ['vt_doesnotexist0000000000', before.callbackToken],
    ] as const;
    for (const [taskId, token] of attempts) {
      const res = await postCallback(taskId, token, forged);
      expect(res.status).toBe(404);
    }
    expect(await rowOf(task.id)).toEqual(before);
    expect(await readAccount(t, key)).toMatchObject({ creditsHeld: 2 * PRICE, creditsUsed: 0 });

    // The same body with the right token is taken: the token alone turned the others away.
    const genuine = await postCallback(task.id, before.callbackToken, forged);
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({ outcome: 'applied' });
    expect((await rowOf(task.id)).status).toBe('SUCCEEDED');
  });

  // These two run side by side; the test above changes the simulator's faults, so it runs alone.
  it.concurrent('moves a task to SUCCEEDED on callbacks alone, without one status query', async ({ expect }) => {
    const key = await t.createKey(1_000);
    const { outcome, klingId } = await runOnCallbacks(key, 'A hummingbird, called back');

    expect(outcome.end).toBe('complete');
    // A subscriber slower than the first callback (0.1 s) starts at PROCESSING: the current state.
    expect(statusesOf(outcome).slice(-2)).toEqual(['PROCESSING', 'SUCCEEDED']);
    expect(['SUBMITTED', 'PROCESSING']).toContain(statusesOf(outcome)[0]);
    const done = lastTaskOf(outcome) as TaskFields;
    expect(done).toMatchObject({ creditsCharged: PRICE, failure: null });
    expect(done.videos[0]?.url).toContain(`/videos/${klingId}/`);
    expect(t.simulator.stats.getsPerTaskId.get(klingId)).toBeUndefined();
    await t.simulator.flushCallbacks();
    expect(t.simulator.stats.callbacks.failed).toBe(0);
    expect(await readAccount(t, key)).toMatchObject({ creditsHeld: 0, creditsUsed: PRICE });
  });

  it.concurrent('takes a replayed, a late or a contradicting callback after the end without any change', async ({ expect }) => {
    const key = await t.createKey(1_000);
    const { task, outcome, klingId } = await runOnCallbacks(key, 'Replayed news');
    expect(statusesOf(outcome).at(-1)).toBe('SUCCEEDED');
    await t.simulator.flushCallbacks();
    const before = await rowOf(task.id);
    expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });

    const final = t.simulator.peekTask(klingId);
    expect(final).toMatchObject({ task_status: 'succeed' });
    const { task_result: _result, final_unit_deduction: _units, ...open } = final ?? {};
    const late = [
      final,
      { ...open, task_status: 'processing', task_status_msg: '' },
      { ...open, task_status: 'failed', task_status_msg: 'late failure', task_result: {}, final_unit_deduction: '0' },
    ];
    for (const body of late) {
      const res = await postCallback(task.id, before.callbackToken, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ outcome: 'unchanged' });
    }

    expect(await rowOf(task.id)).toEqual(before);
    expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
    expect(await readAccount(t, key)).toMatchObject({ creditsHeld: 0, creditsUsed: PRICE });
  });
});
