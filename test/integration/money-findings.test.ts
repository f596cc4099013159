// What outside checks found in the money path, each replayed against the real gateway and simulator:
// a duplicate-external-id refusal after an ambiguous submit, a cancel while the submit is in flight,
// and Kling refusing our account (balance). Kling's real moderation text is in kling-failure-reasons
// and faults.test.ts; the idempotency race between two instances in idempotency-race.test.ts.
import { describe, expect, it, vi } from 'vitest';
import { CANCEL_VIDEO_TASK, GENERATE_VIDEO, TASK_UPDATED, type GenerateVideoData, type TaskFields } from '../helpers/operations.js';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { createLogCapture } from '../helpers/log-capture.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { ledgerTotals } from '../helpers/store-audit.js';
import { CHEAP, FAST_POLLING, PRICE } from '../helpers/task-flows.js';

async function lastState(t: TestGateway, key: string, id: string): Promise<TaskFields> {
  const outcome = await subscribeSse<{ taskUpdated: TaskFields }>(t.url, TASK_UPDATED, { id }, { key }).done;
  const last = outcome.results.at(-1)?.data?.taskUpdated;
  if (outcome.end !== 'complete' || !last) throw new Error(`taskUpdated ${id} ended ${outcome.end}: ${JSON.stringify(outcome)}`);
  return last;
}

async function ledgerOfKey(t: TestGateway, key: string) {
  const keyId = (await t.gateway.apiKeys.authenticate(key)) ?? '';
  return { account: await t.gateway.store.getApiKey(keyId), ledger: await ledgerTotals(t.gateway.store, keyId) };
}

describe('an ambiguous submit, then "external_task_id already exists"', () => {
  it('adopts the task Kling holds instead of failing and refunding it', async () => {
    // Every accepted create loses its answer, and a new task shows to queries only 1 s (of Kling's
    // stopped clock) after its create: every lookup misses it, so the dispatcher's next submit of the
    // queued task is refused as a duplicate on its first send.
    const klingClock = createKlingClock();
    klingClock.pause();
    const t = await startGateway({
      env: FAST_POLLING,
      simulator: { taskSeconds: 0.2, faults: { dropAfterAcceptRate: 1 }, lookupLagMs: 1_000, ...simulatorClockOptions(klingClock) },
    });
    const key = await t.createKey(100);
    const res = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: 'A kite over dunes', ...CHEAP } }, key);

    expect(res.body.data?.generateVideo.__typename).toBe('GenerateVideoSuccess');
    const task = res.body.data?.generateVideo.task;
    expect(task?.status).toBe('QUEUED');
    // The submit inside generateVideo, then the dispatcher's own: both refused as duplicates.
    await vi.waitFor(() => expect(t.simulator.stats.answersByCode.get(1201)).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
    expect(await t.gateway.store.getTask(task?.id ?? '')).toMatchObject({ status: 'QUEUED', klingTaskId: null });

    klingClock.resume();
    klingClock.advance(1_000);
    expect(await lastState(t, key, task?.id ?? '')).toMatchObject({ status: 'SUCCEEDED', creditsCharged: PRICE, failure: null });
    expect([...t.simulator.stats.tasksPerExternalId.values()]).toEqual([1]);
    expect(await ledgerOfKey(t, key)).toMatchObject({
      account: { creditBalance: 100 - PRICE, creditsHeld: 0, creditsUsed: PRICE, slotsInUse: 0 },
      ledger: { hold: PRICE, charge: PRICE, refund: 0 },
    });
  });
});

describe('cancel while the first submit is in flight', () => {
  /** Starts generateVideo with a slow Kling and cancels the task once it exists, before Kling has answered. */
  async function cancelDuringSubmit(t: TestGateway, key: string, prompt: string) {
    const submitting = t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt, ...CHEAP } }, key);
    const keyId = (await t.gateway.apiKeys.authenticate(key)) ?? '';
    // The task is stored (hold and slot taken) before the create goes out; Kling answers 300 ms later.
    const row = await vi.waitFor(
      async () => {
        const [found] = await t.gateway.store.listTasksForKey(keyId, { limit: 1 });
        if (!found?.holdsSlot) throw new Error('not stored yet');
        return found;
      },
      { timeout: 5_000, interval: 5 },
    );
    expect(t.simulator.stats.createsAccepted).toBe(0);
    const canceled = await t.graphql<{ cancelVideoTask: { task?: TaskFields } }>(CANCEL_VIDEO_TASK, { id: row.id }, key);
    // Kling's answer is not known yet: the task cannot be refunded (Kling may take it) nor charged.
    expect(canceled.body.data?.cancelVideoTask.task).toMatchObject({ status: 'QUEUED', creditsCharged: 0 });
    await submitting;
    return lastState(t, key, row.id);
  }

  it('charges it as canceled at Kling when Kling took it, since Kling bills it', async () => {
    const t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 5, faults: { latencyMs: { min: 300, max: 300 } } } });
    const key = await t.createKey(100);
    const end = await cancelDuringSubmit(t, key, 'A slow submit');

    expect(end).toMatchObject({ status: 'CANCELED', creditsCharged: PRICE });
    expect(t.simulator.stats.createsAccepted).toBe(1);
    expect(await ledgerOfKey(t, key)).toMatchObject({
      account: { creditBalance: 100 - PRICE, creditsHeld: 0, creditsUsed: PRICE, slotsInUse: 0 },
      ledger: { hold: PRICE, charge: PRICE, refund: 0 },
    });
  });

  it('refunds it when Kling refused the submit', async () => {
    const t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 5, faults: { latencyMs: { min: 300, max: 300 } } } });
    const key = await t.createKey(100);
    const end = await cancelDuringSubmit(t, key, 'A refused submit [[reject]]');

    expect(end).toMatchObject({ status: 'CANCELED', creditsCharged: 0 });
    expect(t.simulator.stats.createsAccepted).toBe(0);
    expect(await ledgerOfKey(t, key)).toMatchObject({
      account: { creditBalance: 100, creditsHeld: 0, creditsUsed: 0, slotsInUse: 0 },
      ledger: { hold: PRICE, charge: 0, refund: PRICE },
    });
  });
});

describe('Kling refuses our account (1102, balance not enough)', () => {
  it('keeps tasks queued, pauses submits with one error line, says so in /readyz and metrics, and resumes after a top-up', async () => {
    const logs = createLogCapture('info');
    const t = await startGateway({
      env: { ...FAST_POLLING, UPSTREAM_COOL_DOWN_MS: '100', LOG_LEVEL: 'info' },
      simulator: { taskSeconds: 0.2, balanceUnits: 0 },
      overrides: { logger: logs.logger },
    });
    const key = await t.createKey(100);
    const tasks = await Promise.all(
      ['one', 'two', 'three'].map(async (n) => {
        const res = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: `Dry account ${n}`, ...CHEAP } }, key);
        return res.body.data?.generateVideo.task;
      }),
    );
    for (const task of tasks) expect(task).toMatchObject({ status: 'QUEUED', failure: null });
    expect(t.simulator.stats.answersByCode.get(1102)).toBeGreaterThanOrEqual(1);

    const ready = await fetch(new URL('/readyz', t.url));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { upstream: expect.any(String) as unknown } });
    const metrics = await (await fetch(new URL('/metrics', t.url))).text();
    expect(metrics).toMatch(/^kling_gateway_upstream_paused 1$/m);
    // Probes keep being refused while the account is dry; the log says so once per pause.
    await vi.waitFor(() => expect(t.simulator.stats.answersByCode.get(1102)).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
    expect(logs.entries.filter((entry) => entry['level'] === 50 && String(entry['msg']).includes('refuses this account'))).toHaveLength(1);

    t.simulator.setBalance(undefined);
    for (const task of tasks) expect(await lastState(t, key, task?.id ?? '')).toMatchObject({ status: 'SUCCEEDED', creditsCharged: PRICE });
    expect((await fetch(new URL('/readyz', t.url))).status).toBe(200);
    expect(await ledgerOfKey(t, key)).toMatchObject({ account: { creditBalance: 100 - 3 * PRICE, creditsHeld: 0, slotsInUse: 0 } });
  });

  it('ends a task still waiting at its deadline FAILED with UPSTREAM_UNAVAILABLE, refunded', async () => {
    const t = await startGateway({
      env: { ...FAST_POLLING, UPSTREAM_COOL_DOWN_MS: '100', TASK_DEADLINE_SECONDS: '1' },
      simulator: { taskSeconds: 0.2, balanceUnits: 0 },
    });
    const key = await t.createKey(100);
    const res = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: 'Never taken', ...CHEAP } }, key);
    const task = res.body.data?.generateVideo.task;

    expect(await lastState(t, key, task?.id ?? '')).toMatchObject({
      status: 'FAILED',
      creditsCharged: 0,
      failure: { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
    });
    expect(t.simulator.stats.createsAccepted).toBe(0);
    expect(await ledgerOfKey(t, key)).toMatchObject({
      account: { creditBalance: 100, creditsHeld: 0, slotsInUse: 0 },
      ledger: { hold: PRICE, charge: 0, refund: PRICE },
    });
  });
});
