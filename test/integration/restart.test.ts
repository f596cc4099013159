// The crash promise: SIGKILL the real `npm start` entry with tasks in every state, start it again on
// the same database, and every task still ends once, paid once, with one task at Kling per task.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import * as dbSchema from '../../src/db/schema.js';
import { createStore } from '../../src/db/store.js';
import { createKlingSimulator } from '../../src/kling/simulator/simulator.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { onTeardown } from '../helpers/leftovers.js';
import { simulatorGatewayEnv, spawnGateway } from '../helpers/spawn-gateway.js';
import {
  CANCEL_VIDEO_TASK,
  GENERATE_VIDEO,
  TASK_UPDATED,
  VIDEO_TASK,
  type GenerateVideoData,
  type TaskFields,
} from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { ledgerTotals } from '../helpers/store-audit.js';

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'];
/** Longest gap the gateway itself schedules between two looks at an open task (queue recheck: 1 s). */
const NORMAL_SCHEDULE_MS = 5_000;

function processGroupOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('the gateway process has no pid');
  return -child.pid;
}

/** Follows one task over SSE until the subscription completes (after a terminal state). */
async function lastState(url: string, key: string, id: string): Promise<TaskFields> {
  const outcome = await subscribeSse<{ taskUpdated: TaskFields }>(url, TASK_UPDATED, { id }, { key }).done;
  const last = outcome.results.at(-1)?.data?.taskUpdated;
  if (outcome.end !== 'complete' || !last) throw new Error(`taskUpdated ${id} ended ${outcome.end}: ${JSON.stringify(outcome)}`);
  return last;
}

describe('a gateway killed with SIGKILL and started again on the same database', () => {
  it('finishes every task once, settles every hold once and never creates a second Kling task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-restart-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
    const dbFile = join(dir, 'gateway.db');

    const simulator = createKlingSimulator({ port: 0, taskSeconds: 1, seed: 11 });
    const simulatorUrl = await simulator.start();
    onTeardown(() => simulator.stop());

    const env = simulatorGatewayEnv(simulatorUrl, {
      DATABASE_URL: dbFile,
      // Three slots at Kling, so most of the fifteen tasks wait in the gateway's own queue.
      KEY_MAX_ACTIVE_TASKS: '3',
      POLL_FIRST_DELAY_MS: '100',
      POLL_MAX_INTERVAL_MS: '300',
      POLL_REQUESTS_PER_SECOND: '50',
      DEMO_KEY: 'true',
    });

    const first = await spawnGateway(env);
    const key = first.demoKey;
    if (!key) throw new Error(`no demo key printed:\n${first.output()}`);
    const generate = async (url: string, prompt: string) => {
      const res = await postGraphql<GenerateVideoData>(url, GENERATE_VIDEO, { input: { prompt, model: 'KLING_V1' } }, { key });
      const task = res.body.data?.generateVideo.task;
      if (!task) throw new Error(`generateVideo answered ${JSON.stringify(res.body)}`);
      return task;
    };
    const cancel = async (url: string, id: string) => {
      const res = await postGraphql<{ cancelVideoTask: { task?: TaskFields } }>(url, CANCEL_VIDEO_TASK, { id }, { key });
      const task = res.body.data?.cancelVideoTask.task;
      if (!task) throw new Error(`cancelVideoTask answered ${JSON.stringify(res.body)}`);
      return task;
    };

    // Finished before the crash: two successes and a content-policy failure.
    const finished = [await generate(first.url, 'Done: a fox'), await generate(first.url, 'Done: a heron')];
    const failedEarly = await generate(first.url, 'Done but [[fail]]');
    const early = await Promise.all([...finished, failedEarly].map((t) => lastState(first.url, key, t.id)));
    expect(early.map((t) => t.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'FAILED']);

    // Still at Kling at the crash: these three take 4 s there and fill the key's slots.
    simulator.setFaults({ slowTaskRate: 1, slowTaskSeconds: 4 });
    const slow = [await generate(first.url, 'Slow: a glacier'), await generate(first.url, 'Slow: a tide'), await generate(first.url, 'Slow: a dune')];
    simulator.setFaults({});
    expect(slow.map((t) => t.status)).toEqual(['SUBMITTED', 'SUBMITTED', 'SUBMITTED']);

    const queuedPrompts = ['Q: rain', 'Q: snow [[fail]]', 'Q: hail', 'Q: fog', 'Q: wind [[fail]]', 'Q: dew', 'Q: mist', 'Q: sleet', 'Q: frost'];
    const queued: TaskFields[] = [];
    for (const prompt of queuedPrompts) queued.push(await generate(first.url, prompt));
    expect(queued.map((t) => t.status)).toEqual(queuedPrompts.map(() => 'QUEUED'));

    // Two canceled in the queue (refunded) and one at Kling (charged, Kling bills it).
    const [canceledQueued1, canceledQueued2] = [queued[2], queued[6]] as [TaskFields, TaskFields];
    const canceledAtKling = slow[0] as TaskFields;
    expect((await cancel(first.url, canceledQueued1.id)).status).toBe('CANCELED');
    expect((await cancel(first.url, canceledQueued2.id)).status).toBe('CANCELED');
    expect((await cancel(first.url, canceledAtKling.id)).status).toBe('CANCELED');

    const all = [...finished, failedEarly, ...slow, ...queued];
    const statusesBeforeCrash = new Set(
      await Promise.all(
        all.map(async (t) => {
          const res = await postGraphql<{ videoTask: TaskFields }>(first.url, VIDEO_TASK, { id: t.id }, { key });
          return res.body.data?.videoTask.status;
        }),
      ),
    );
    for (const status of ['SUCCEEDED', 'FAILED', 'CANCELED', 'QUEUED']) expect(statusesBeforeCrash).toContain(status);
    expect(statusesBeforeCrash.has('SUBMITTED') || statusesBeforeCrash.has('PROCESSING')).toBe(true);

    // The kill lands between two poller batches. A batch claimed at that instant is leased for 30 s
    // (not configurable), longer than this test's budget; the lease itself is checked after the kill.
    const reader = new Database(dbFile, { readonly: true, fileMustExist: true });
    onTeardown(() => {
      reader.close();
    });
    const latestLook = reader.prepare<[], { at: number | null }>('SELECT max(next_check_at) AS at FROM tasks');
    await vi.waitFor(
      () => {
        const at = latestLook.get()?.at ?? 0;
        if (at > Date.now() + NORMAL_SCHEDULE_MS) throw new Error('a poller batch holds a lease');
        process.kill(processGroupOf(first.child), 'SIGKILL');
      },
      { timeout: 5_000, interval: 5 },
    );
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');
    const leasedUntil = latestLook.get()?.at ?? 0;
    const recoveryBudgetMs = Math.max(0, leasedUntil - Date.now()) + 20_000;

    const second = await spawnGateway(env);
    expect(second.demoKey).toBeUndefined();
    const ends = await Promise.race([
      Promise.all(all.map((t) => lastState(second.url, key, t.id))),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`tasks still open after ${recoveryBudgetMs} ms:\n${second.output()}`)), recoveryBudgetMs).unref(),
      ),
    ]);
    const byId = new Map(ends.map((t) => [t.id, t]));
    const end = (t: TaskFields) => byId.get(t.id);

    for (const t of ends) expect(TERMINAL).toContain(t.status);
    for (const t of [...finished, ...slow.slice(1)]) expect(end(t)).toMatchObject({ status: 'SUCCEEDED', creditsCharged: t.credits });
    expect(end(failedEarly)).toMatchObject({ status: 'FAILED', creditsCharged: 0, failure: { code: 'CONTENT_POLICY' } });
    expect(end(canceledAtKling)).toMatchObject({ status: 'CANCELED', creditsCharged: canceledAtKling.credits });
    for (const t of [canceledQueued1, canceledQueued2]) expect(end(t)).toMatchObject({ status: 'CANCELED', creditsCharged: 0 });
    for (const t of queued.filter((q) => q !== canceledQueued1 && q !== canceledQueued2)) {
      expect(end(t)).toMatchObject(
        t.prompt.includes('[[fail]]')
          ? { status: 'FAILED', creditsCharged: 0, failure: { code: 'CONTENT_POLICY' } }
          : { status: 'SUCCEEDED', creditsCharged: t.credits },
      );
    }

    process.kill(processGroupOf(second.child), 'SIGTERM');
    await second.exited;

    // The audit reads the file the two processes left behind, without writing to it.
    const store = createStore(drizzle(reader, { schema: dbSchema }));
    const [account] = await store.listApiKeys();
    if (!account) throw new Error('no API key in the database');
    const totals = await ledgerTotals(store, account.id);
    expect(totals.hold).toBe(all.reduce((sum, t) => sum + t.credits, 0));
    expect(totals.hold).toBe(totals.charge + totals.refund);
    expect(account).toMatchObject({ creditsHeld: 0, creditsUsed: totals.charge, slotsInUse: 0 });
    expect(account.creditBalance + account.creditsUsed).toBe(totals.grant);
    expect(totals.charge).toBe(ends.reduce((sum, t) => sum + t.creditsCharged, 0));

    const settlements = reader
      .prepare<[], { taskId: string; holds: number; settles: number }>(
        `SELECT task_id AS taskId,
                sum(kind = 'hold') AS holds,
                sum(kind IN ('charge', 'refund')) AS settles
         FROM credit_ledger WHERE task_id IS NOT NULL GROUP BY task_id`,
      )
      .all();
    expect(settlements).toHaveLength(all.length);
    for (const row of settlements) expect(row).toMatchObject({ holds: 1, settles: 1 });

    // One Kling task per gateway task that reached Kling; the two canceled in the queue never did.
    const atKling = all.filter((t) => t !== canceledQueued1 && t !== canceledQueued2).map((t) => t.id);
    expect([...simulator.stats.tasksPerExternalId.keys()].sort()).toEqual(atKling.sort());
    expect([...simulator.stats.tasksPerExternalId.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);
});
