import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { CANCEL_VIDEO_TASK, TASK_UPDATED, type TaskFields } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { tasksHoldingSlots } from '../helpers/store-audit.js';
import {
  generateTask,
  isStatus,
  klingIdOf,
  lastTaskOf,
  ledgerOf,
  readAccount,
  readTask,
  statusesOf,
  withPollerHeld,
  type TaskUpdatedData,
} from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';
import { CHEAP, FAST_POLLING, PRICE } from '../helpers/task-flows.js';

/** How long a simulated task takes, in the simulator's time. */
const TASK_MS = 300;

interface CancelData {
  cancelVideoTask: { __typename: string; task?: TaskFields; code?: string; message?: string };
}

const cancel = async (t: TestGateway, key: string, id: string) =>
  (await t.graphql<CancelData>(CANCEL_VIDEO_TASK, { id }, key)).body.data?.cancelVideoTask;

const watch = (t: TestGateway, key: string, id: string) =>
  createWsClient(t.url, { key }).subscribe<TaskUpdatedData>(TASK_UPDATED, { id });

const finalStatus = async (t: TestGateway, key: string, id: string) => statusesOf(await watch(t, key, id).done).at(-1);

/** Runs a fresh task of another key to SUCCEEDED: proof that the poller went round many times meanwhile. */
async function runAnotherTaskToTheEnd(t: TestGateway) {
  const key = await t.createKey(1_000);
  const task = await generateTask(t, key, { prompt: 'A metronome ticking', ...CHEAP });
  expect(await finalStatus(t, key, task.id)).toBe('SUCCEEDED');
}

// Each group starts its own gateway and simulator, so the groups run side by side.
describe.concurrent('canceling and queueing', () => {
  describe('cancelVideoTask', () => {
    let t: TestGateway;

    const klingClock = createKlingClock();

    beforeAll(async () => {
      t = await startGateway({
        env: { ...FAST_POLLING, KEY_MAX_ACTIVE_TASKS: '1' },
        simulator: { taskSeconds: TASK_MS / 1000, ...simulatorClockOptions(klingClock) },
      });
    });

    afterEach(() => {
      klingClock.resume();
    });

    // They hold this gateway's poller in turn, while the other groups run beside them.
    describe('in each state of a task', { concurrent: false }, () => {
      it('cancels a QUEUED task at once with a refund, and Kling never sees it', async () => {
        const key = await t.createKey(1_000);
        const [first, second, third] = await withPollerHeld(t, async () => {
          const tasks: TaskFields[] = [];
          for (const place of ['First', 'Second', 'Third']) tasks.push(await generateTask(t, key, { prompt: `${place} in line`, ...CHEAP }));
          expect(tasks.map((task) => [task.status, task.queuePosition])).toEqual([
            ['SUBMITTED', null],
            ['QUEUED', 1],
            ['QUEUED', 2],
          ]);

          const canceled = await cancel(t, key, tasks[1]?.id ?? '');
          expect(canceled).toMatchObject({
            __typename: 'CancelVideoTaskSuccess',
            task: { id: tasks[1]?.id, status: 'CANCELED', creditsCharged: 0, queuePosition: null },
          });
          expect(canceled?.task?.completedAt).not.toBeNull();
          return tasks as [TaskFields, TaskFields, TaskFields];
        });
        expect(await readAccount(t, key)).toMatchObject({ creditBalance: 1_000 - 2 * PRICE, creditsHeld: 2 * PRICE, creditsUsed: 0 });
        expect((await readTask(t, key, third.id))?.queuePosition).toBe(1);

        // The third task only reaches Kling after the first left it, so by then the second was passed over for good.
        expect(await finalStatus(t, key, third.id)).toBe('SUCCEEDED');
        expect(t.simulator.stats.tasksPerExternalId.get(first.id)).toBe(1);
        expect(t.simulator.stats.tasksPerExternalId.get(second.id)).toBeUndefined();
        expect(t.simulator.stats.tasksPerExternalId.get(third.id)).toBe(1);
        expect((await readTask(t, key, second.id))?.status).toBe('CANCELED');
        expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: 3 * PRICE, charge: 2 * PRICE, refund: PRICE });
      });

      it('cancels a SUBMITTED task with a charge and never polls it again', async () => {
        const key = await t.createKey(1_000);
        // Held poller: the task is certainly still SUBMITTED when the cancel arrives, and no check is in flight.
        const task = await withPollerHeld(t, async () => {
          const submitted = await generateTask(t, key, { prompt: 'A kettle about to boil', ...CHEAP });
          expect(submitted.status).toBe('SUBMITTED');
          const canceled = await cancel(t, key, submitted.id);
          expect(canceled).toMatchObject({ __typename: 'CancelVideoTaskSuccess', task: { status: 'CANCELED', creditsCharged: PRICE } });
          return submitted;
        });
        const klingId = await klingIdOf(t, task.id);
        expect(await readAccount(t, key)).toMatchObject({ creditBalance: 1_000 - PRICE, creditsHeld: 0, creditsUsed: PRICE });

        // Submitted after the canceled one with the same duration: when it is done, so is the canceled one at Kling.
        await runAnotherTaskToTheEnd(t);
        expect(t.simulator.peekTask(klingId)).toMatchObject({ task_status: 'succeed' });
        expect(t.simulator.stats.getsPerTaskId.get(klingId)).toBeUndefined();
        expect(await readTask(t, key, task.id)).toMatchObject({ status: 'CANCELED', creditsCharged: PRICE, videos: [] });
        expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
      });

      it('cancels a PROCESSING task with a charge and stops polling it', async () => {
        const key = await t.createKey(1_000);
        // Kling's time stopped halfway: the task is processing there, and stays so until the clock runs again.
        klingClock.pause();
        const task = await generateTask(t, key, { prompt: 'Bread rising in an oven', ...CHEAP });
        const updates = watch(t, key, task.id);
        klingClock.advance(TASK_MS / 2);
        await updates.until(isStatus('PROCESSING'));

        // Held poller: no check of this task is in flight when it is canceled, so any later one would be a leak.
        const checksAtCancel = await withPollerHeld(t, async () => {
          const canceled = await cancel(t, key, task.id);
          expect(canceled).toMatchObject({ __typename: 'CancelVideoTaskSuccess', task: { status: 'CANCELED', creditsCharged: PRICE } });
          return t.simulator.stats.getsPerTaskId.get(await klingIdOf(t, task.id));
        });
        klingClock.resume();
        const outcome = await updates.done;
        expect(outcome.end).toBe('complete');
        expect(statusesOf(outcome).slice(-2)).toEqual(['PROCESSING', 'CANCELED']);

        const klingId = await klingIdOf(t, task.id);
        await runAnotherTaskToTheEnd(t);
        expect(t.simulator.peekTask(klingId)).toMatchObject({ task_status: 'succeed' });
        expect(t.simulator.stats.getsPerTaskId.get(klingId)).toBe(checksAtCancel);
        expect(await readTask(t, key, task.id)).toMatchObject({ status: 'CANCELED', creditsCharged: PRICE, videos: [] });
        expect(await readAccount(t, key)).toMatchObject({ creditBalance: 1_000 - PRICE, creditsHeld: 0, creditsUsed: PRICE });
        expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
      });

      it('leaves a SUCCEEDED task exactly as it was', async () => {
        const key = await t.createKey(1_000);
        const task = await generateTask(t, key, { prompt: 'A finished painting', ...CHEAP });
        const done = lastTaskOf(await watch(t, key, task.id).done);
        expect(done?.status).toBe('SUCCEEDED');
        const versionBefore = (await t.gateway.store.getTask(task.id))?.version;
        const accountBefore = await readAccount(t, key);

        const canceled = await cancel(t, key, task.id);
        expect(canceled).toEqual({ __typename: 'CancelVideoTaskSuccess', task: done });
        expect((await t.gateway.store.getTask(task.id))?.version).toBe(versionBefore);
        expect(await readAccount(t, key)).toEqual(accountBefore);
        expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
      });

      it("answers NotFoundError for another key's task and leaves that task alone", async () => {
        const owner = await t.createKey(1_000);
        const stranger = await t.createKey(1_000);
        await withPollerHeld(t, async () => {
          const task = await generateTask(t, owner, { prompt: 'Somebody else’s clip', ...CHEAP });
          const versionBefore = (await t.gateway.store.getTask(task.id))?.version;

          expect(await cancel(t, stranger, task.id)).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
          expect(await cancel(t, stranger, 'vt_doesnotexist0000000000')).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
          expect(await t.gateway.store.getTask(task.id)).toMatchObject({ status: 'SUBMITTED', version: versionBefore });
          expect(await readAccount(t, owner)).toMatchObject({ creditsHeld: PRICE, creditsUsed: 0 });
          expect(await readAccount(t, stranger)).toMatchObject({ creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });
        });
      });
    });
  });

  describe("the per-key queue in front of Kling's slots", () => {
    it('submits at most two of five tasks at once, hands the rest over in creation order, and finishes all', async ({ expect }) => {
      // The simulator answers 1303 the moment the account has a third open task: it referees the limit.
      const t = await startGateway({
        env: { ...FAST_POLLING, KEY_MAX_ACTIVE_TASKS: '2' },
        simulator: { taskSeconds: 0.3, concurrencyLimit: 2 },
      });
      const key = await t.createKey(1_000);
      // Held poller: however slow the submits, the first two are still open in the gateway's eyes.
      const tasks = await withPollerHeld(t, async () => {
        const submitted: TaskFields[] = [];
        for (let n = 1; n <= 5; n++) submitted.push(await generateTask(t, key, { prompt: `Queued clip ${n}`, ...CHEAP }));
        return submitted;
      });
      expect(tasks.map((task) => [task.status, task.queuePosition])).toEqual([
        ['SUBMITTED', null],
        ['SUBMITTED', null],
        ['QUEUED', 1],
        ['QUEUED', 2],
        ['QUEUED', 3],
      ]);

      const outcomes = await Promise.all(tasks.map((task) => watch(t, key, task.id).done));
      expect(outcomes.map((outcome) => statusesOf(outcome).at(-1))).toEqual(Array(5).fill('SUCCEEDED'));
      expect(t.simulator.stats.answersByCode.get(1303) ?? 0).toBe(0);
      expect(tasks.map((task) => t.simulator.stats.tasksPerExternalId.get(task.id))).toEqual([1, 1, 1, 1, 1]);

      // Kling's arrival order: a task may only leave the queue once those before it have, but tasks
      // leaving in one poller round are sent side by side, so their order within that round is open. How
      // the rounds fall depends on when slots free ({3,4},{5} or {3},{4,5}); with two slots a round holds
      // at most two, so every task reaches Kling before the one two places behind it.
      const arrivals = [...t.simulator.stats.tasksPerExternalId.keys()];
      const ids = tasks.map((task) => task.id);
      expect(new Set(arrivals.slice(0, 2))).toEqual(new Set(ids.slice(0, 2)));
      for (let i = 0; i + 2 < ids.length; i++) {
        for (let j = i + 2; j < ids.length; j++) expect(arrivals.indexOf(ids[i] ?? '')).toBeLessThan(arrivals.indexOf(ids[j] ?? ''));
      }
      expect(await readAccount(t, key)).toMatchObject({ creditBalance: 1_000 - 5 * PRICE, creditsHeld: 0, creditsUsed: 5 * PRICE });
    });
  });

  describe('the per-key queue under concurrent and late submits', () => {
    it('lets six concurrent submits take only the two slots, queues the other four, and finishes all', async ({ expect }) => {
      const t = await startGateway({
        env: { ...FAST_POLLING, KEY_MAX_ACTIVE_TASKS: '2' },
        simulator: { taskSeconds: 0.3, concurrencyLimit: 2 },
      });
      const key = await t.createKey(1_000);
      const tasks = await withPollerHeld(t, async () => {
        const submitted = await Promise.all(
          Array.from({ length: 6 }, (_, n) => generateTask(t, key, { prompt: `Concurrent clip ${n}`, ...CHEAP })),
        );
        expect(t.simulator.stats.tasksPerExternalId.size).toBe(2);
        return submitted;
      });
      expect(tasks.filter((task) => task.status === 'SUBMITTED')).toHaveLength(2);
      expect(tasks.filter((task) => task.status === 'QUEUED')).toHaveLength(4);
      // The key's slot counter is what a submit reads; it must track the tasks holding slots exactly.
      const keyId = (await t.gateway.apiKeys.authenticate(key)) ?? '';
      const slots = async () => [(await t.gateway.store.getApiKey(keyId))?.slotsInUse, await tasksHoldingSlots(t.gateway.store, keyId)];
      expect(await slots()).toEqual([2, 2]);

      const outcomes = await Promise.all(tasks.map((task) => watch(t, key, task.id).done));
      expect(outcomes.map((outcome) => statusesOf(outcome).at(-1))).toEqual(Array(6).fill('SUCCEEDED'));
      expect(t.simulator.stats.answersByCode.get(1303) ?? 0).toBe(0);
      expect(tasks.map((task) => t.simulator.stats.tasksPerExternalId.get(task.id))).toEqual(Array(6).fill(1));
      expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: 6 * PRICE, charge: 6 * PRICE, refund: 0 });
      expect(await slots()).toEqual([0, 0]);
    });

    it('puts a task submitted after a slot freed behind the task already waiting for it', async ({ expect }) => {
      const t = await startGateway({ env: { ...FAST_POLLING, KEY_MAX_ACTIVE_TASKS: '1' }, simulator: { taskSeconds: 0.3 } });
      const key = await t.createKey(1_000);
      const [first, waiting] = await withPollerHeld(t, async () => [
        await generateTask(t, key, { prompt: 'Holds the slot', ...CHEAP }),
        await generateTask(t, key, { prompt: 'Waits for the slot', ...CHEAP }),
      ]);
      expect(waiting).toMatchObject({ status: 'QUEUED', queuePosition: 1 });
      expect(await finalStatus(t, key, first.id)).toBe('SUCCEEDED');

      // The slot is free now (unless the waiting task took it already): either way the late task waits.
      const late = await generateTask(t, key, { prompt: 'Arrives late', ...CHEAP });
      expect(late.status).toBe('QUEUED');
      const finals = await Promise.all([finalStatus(t, key, waiting.id), finalStatus(t, key, late.id)]);
      expect(finals).toEqual(['SUCCEEDED', 'SUCCEEDED']);
      expect([...t.simulator.stats.tasksPerExternalId.keys()]).toEqual([first.id, waiting.id, late.id]);
    });
  });

  describe("Kling's own concurrency limit", () => {
    it('keeps a task Kling answers 1303 QUEUED and submits it once the first one finished, charging each once', async ({ expect }) => {
      const klingClock = createKlingClock();
      const t = await startGateway({
        env: FAST_POLLING,
        simulator: { taskSeconds: TASK_MS / 1000, concurrencyLimit: 1, ...simulatorClockOptions(klingClock) },
      });
      const key = await t.createKey(1_000);
      // Kling's time stopped: the first task is surely still open there when the second arrives.
      klingClock.pause();
      const first = await generateTask(t, key, { prompt: 'Takes the only slot', ...CHEAP });
      const second = await generateTask(t, key, { prompt: 'Waits for the slot', ...CHEAP });
      klingClock.resume();
      expect(first.status).toBe('SUBMITTED');
      expect(second).toMatchObject({ status: 'QUEUED', queuePosition: 1, creditsCharged: 0 });
      expect(t.simulator.stats.answersByCode.get(1303)).toBeGreaterThanOrEqual(1);

      expect(await Promise.all([finalStatus(t, key, first.id), finalStatus(t, key, second.id)])).toEqual(['SUCCEEDED', 'SUCCEEDED']);
      const firstAtKling = t.simulator.peekTask(await klingIdOf(t, first.id));
      const secondAtKling = t.simulator.peekTask(await klingIdOf(t, second.id));
      expect(secondAtKling?.['created_at']).toBeGreaterThanOrEqual(firstAtKling?.['updated_at'] as number);
      expect(t.simulator.stats.tasksPerExternalId.get(first.id)).toBe(1);
      expect(t.simulator.stats.tasksPerExternalId.get(second.id)).toBe(1);
      expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: 2 * PRICE, charge: 2 * PRICE, refund: 0 });
    });
  });

  describe('Kling unreachable at submit time', () => {
    it('keeps the task QUEUED instead of failing it, and submits it exactly once when Kling is back', async ({ expect }) => {
      const t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 0.3 } });
      const key = await t.createKey(1_000);
      t.simulator.setFaults({ errorRates: { 5001: 1 } });
      const task = await generateTask(t, key, { prompt: 'Patience', ...CHEAP });
      expect(task).toMatchObject({ status: 'QUEUED', queuePosition: 1, failure: null });
      expect(t.simulator.stats.injectedErrors.get(5001)).toBeGreaterThan(0);
      expect(t.simulator.stats.tasksPerExternalId.get(task.id)).toBeUndefined();
      expect(await readAccount(t, key)).toMatchObject({ creditBalance: 1_000 - PRICE, creditsHeld: PRICE });

      t.simulator.setFaults({});
      expect(await finalStatus(t, key, task.id)).toBe('SUCCEEDED');
      expect(t.simulator.stats.tasksPerExternalId.get(task.id)).toBe(1);
      expect(await ledgerOf(t, key)).toEqual({ grant: 1_000, hold: PRICE, charge: PRICE, refund: 0 });
    });
  });
});
