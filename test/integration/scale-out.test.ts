// Three gateway processes on one PostgreSQL database and one Redis behave as one gateway.
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { systemClock } from '../../src/clock.js';
import { openPostgres } from '../../src/db/connection.js';
import { createStore, type Store } from '../../src/db/store.js';
import { createKlingSimulator, type KlingSimulator } from '../../src/kling/simulator/simulator.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { onTeardown } from '../helpers/leftovers.js';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { CANCEL_VIDEO_TASK, GENERATE_VIDEO, ME, TASK_UPDATED, type GenerateVideoData, type MeData, type TaskFields } from '../helpers/operations.js';
import { freshPostgresDatabase, REDIS_URL, scaleOutServicesAvailable } from '../helpers/services.js';
import { simulatorGatewayEnv, spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { ledgerEntriesPerTask, ledgerTotals, tasksHoldingSlots } from '../helpers/store-audit.js';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT']);
const available = scaleOutServicesAvailable('scale-out (3 gateway instances)');

describe.skipIf(!available)('three gateway instances on PostgreSQL and Redis', () => {
  let simulator: KlingSimulator;
  let store: Store;
  let apiKeys: ReturnType<typeof createApiKeys>;
  let databaseUrl: string;
  const instances = new Map<string, SpawnedGateway>();
  // Kling's time, which a test stops so that a task waits at Kling until the test changes it itself.
  const klingClock = createKlingClock();

  const envFor = (name: string, simulatorUrl: string) =>
    simulatorGatewayEnv(simulatorUrl, {
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      INSTANCE_ID: name,
      POLL_FIRST_DELAY_MS: '200',
      POLL_MAX_INTERVAL_MS: '400',
      POLL_REQUESTS_PER_SECOND: '500',
      // Short leases so the test sees a dead instance's tasks move on within seconds.
      POLL_LEASE_MS: '5000',
      SUBMIT_LEASE_MS: '5000',
      KEY_MAX_ACTIVE_TASKS: '10000',
      RATE_LIMIT_POINTS: '1000000',
      DEMO_KEY: 'false',
    });

  beforeAll(async () => {
    databaseUrl = await freshPostgresDatabase();
    simulator = createKlingSimulator({ port: 0, taskSeconds: 1, ...simulatorClockOptions(klingClock) });
    const simulatorUrl = await simulator.start();
    onTeardown(() => simulator.stop());
    // Started together: migrations run once under the advisory lock, whoever comes first.
    const started = await Promise.all(['gw-a', 'gw-b', 'gw-c'].map((name) => spawnGateway(envFor(name, simulatorUrl))));
    started.forEach((gateway, n) => instances.set(['gw-a', 'gw-b', 'gw-c'][n] ?? '', gateway));
    const database = await openPostgres(databaseUrl);
    onTeardown(() => database.close());
    store = createStore(database.dialect);
    apiKeys = createApiKeys({ store, clock: systemClock });
  }, 60_000);

  const urlOf = (name: string) => instances.get(name)?.url ?? '';
  const generate = async (name: string, key: string, input: Record<string, unknown>) => {
    const res = await postGraphql<GenerateVideoData>(urlOf(name), GENERATE_VIDEO, { input }, { key });
    return res.body.data?.generateVideo;
  };

  /** Per key: Σ holds = Σ charges + Σ refunds + what is still held, and nothing was settled twice. */
  async function expectLedgerBalanced(key: string) {
    const keyId = (await apiKeys.authenticate(key)) ?? '';
    const totals = await ledgerTotals(store, keyId);
    const account = await apiKeys.account(keyId);
    expect(totals.hold).toBe(totals.charge + totals.refund + (account?.creditsHeld ?? -1));
    expect(account?.creditBalance).toBe(totals.grant - totals.hold + totals.refund);
    for (const entry of await ledgerEntriesPerTask(store)) expect(entry.settles).toBeLessThanOrEqual(1);
    // The per-key slot counter agrees with the tasks that hold slots, however the instances interleaved.
    expect((await store.getApiKey(keyId))?.slotsInUse).toBe(await tasksHoldingSlots(store, keyId));
  }

  it('delivers a task submitted on one instance to a subscriber on another', async () => {
    const { key } = await apiKeys.create('cross', 1_000);
    const task = (await generate('gw-b', key, { prompt: 'A heron over a misty lake' }))?.task;
    expect(task?.status).toBe('SUBMITTED');
    const watched = subscribeSse<{ taskUpdated: TaskFields }>(urlOf('gw-a'), TASK_UPDATED, { id: task?.id }, { key });
    const outcome = await watched.done;
    const statuses = outcome.results.map((r) => r.data?.taskUpdated.status);
    expect(outcome.end).toBe('complete');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(outcome.results.at(-1)?.data?.taskUpdated.videos).toHaveLength(1);
  });

  it('sends only task ids and versions through Redis, and a subscriber elsewhere still gets the whole task', async () => {
    const { key } = await apiKeys.create('notices', 1_000);
    const prompt = 'A private prompt about a red kite';
    // Everything published on any task channel, as anyone with access to Redis would see it.
    const spy = new Redis(REDIS_URL);
    onTeardown(() => spy.disconnect());
    const messages: { channel: string; message: string }[] = [];
    spy.on('pmessage', (_pattern: string, channel: string, message: string) => messages.push({ channel, message }));
    await spy.psubscribe('task:updated:*');

    klingClock.pause();
    try {
      const task = (await generate('gw-a', key, { prompt }))?.task;
      expect(task?.status).toBe('SUBMITTED');
      const id = task?.id ?? '';
      const watched = subscribeSse<{ taskUpdated: TaskFields }>(urlOf('gw-b'), TASK_UPDATED, { id }, { key });
      await watched.until((payload) => payload.data?.taskUpdated.status === 'SUBMITTED');
      // Canceled on A while Kling holds the task still: A makes the change, B hears of it through Redis.
      const canceled = await postGraphql<{ cancelVideoTask: { task?: TaskFields } }>(urlOf('gw-a'), CANCEL_VIDEO_TASK, { id }, { key });
      expect(canceled.body.data?.cancelVideoTask.task?.status).toBe('CANCELED');
      const outcome = await watched.done;
      expect(outcome.end).toBe('complete');
      expect(outcome.results.at(-1)?.data?.taskUpdated).toMatchObject({ id, status: 'CANCELED', prompt, creditsCharged: task?.credits });

      const row = await store.getTask(id);
      await vi.waitFor(() => expect(messages.map((m) => m.message)).toContain(JSON.stringify({ taskId: id, version: row?.version })));
      const ours = messages.filter((m) => m.channel === `task:updated:${id}`);
      expect(ours.length).toBeGreaterThanOrEqual(2); // created, then canceled
      for (const { message } of ours) {
        expect(Object.keys(JSON.parse(message) as object).sort()).toEqual(['taskId', 'version']);
        for (const secret of [row?.callbackToken ?? '-', prompt, row?.apiKeyId ?? '-', row?.klingTaskId ?? '-']) expect(message).not.toContain(secret);
      }
    } finally {
      klingClock.resume();
    }
  });

  it('polls each of 1,000 round-robin tasks from one instance only', async () => {
    const { key } = await apiKeys.create('many', 1_000_000);
    const names = ['gw-a', 'gw-b', 'gw-c'];
    const ids: string[] = [];
    for (let batch = 0; batch < 1_000; batch += 50) {
      const created = await Promise.all(
        Array.from({ length: 50 }, (_, n) => generate(names[(batch + n) % 3] ?? 'gw-a', key, { prompt: `Clip ${batch + n}` })),
      );
      for (const result of created) ids.push(result?.task?.id ?? JSON.stringify(result));
    }
    expect(ids.filter((id) => !id.startsWith('vt_'))).toEqual([]);
    await vi.waitFor(
      async () => {
        const open = await Promise.all(ids.map((id) => store.getTask(id)));
        expect(open.filter((row) => !TERMINAL.has(row?.status ?? ''))).toHaveLength(0);
      },
      { timeout: 60_000, interval: 500 },
    );
    const rows = await Promise.all(ids.map((id) => store.getTask(id)));
    const pollers = rows.map((row) => simulator.stats.getClientsPerTaskId.get(row?.klingTaskId ?? '')?.size ?? 0);
    expect(pollers.filter((n) => n !== 1)).toEqual([]);
    for (const id of ids) expect(simulator.stats.tasksPerExternalId.get(id)).toBe(1);
    const usedBy = new Set(rows.flatMap((row) => [...(simulator.stats.getClientsPerTaskId.get(row?.klingTaskId ?? '') ?? [])]));
    expect(usedBy.size).toBe(3);
    await expectLedgerBalanced(key);
  }, 90_000);

  it('holds credits exactly once when two instances race on one key', async () => {
    const { key } = await apiKeys.create('racer', 1_000); // ten default tasks at 100 credits
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => generate(n % 2 === 0 ? 'gw-a' : 'gw-b', key, { prompt: `Race ${n}` })),
    );
    const kinds = results.map((r) => r?.__typename);
    expect(kinds.filter((k) => k === 'GenerateVideoSuccess')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'InsufficientCreditsError')).toHaveLength(40);
    const me = await postGraphql<MeData>(urlOf('gw-c'), ME, {}, { key });
    expect(me.body.data?.me).toMatchObject({ creditBalance: 0, creditsHeld: 1_000 });
  });

  it('finishes every task with the ledger balanced after one instance is killed mid-run', async () => {
    const { key } = await apiKeys.create('survivor', 100_000);
    const names = ['gw-a', 'gw-b', 'gw-c'];
    const created = await Promise.all(
      Array.from({ length: 60 }, (_, n) => generate(names[n % 3] ?? 'gw-a', key, { prompt: `Survivor ${n}` })),
    );
    const ids = created.map((r) => r?.task?.id ?? '');
    await instances.get('gw-c')?.kill();
    const leftOpen = (await Promise.all(ids.filter((_, n) => n % 3 === 2).map((id) => store.getTask(id)))).filter(
      (row) => !TERMINAL.has(row?.status ?? ''),
    );
    await vi.waitFor(
      async () => {
        const rows = await Promise.all(ids.map((id) => store.getTask(id)));
        expect(rows.filter((row) => row?.status !== 'SUCCEEDED')).toHaveLength(0);
      },
      { timeout: 30_000, interval: 250 },
    );
    for (const id of ids) expect(simulator.stats.tasksPerExternalId.get(id)).toBe(1);
    // The dead instance's open tasks were taken over when their leases ran out.
    expect(leftOpen.length).toBeGreaterThan(0);
    for (const row of leftOpen) {
      const finished = await store.getTask(row?.id ?? '');
      const pollers = simulator.stats.getClientsPerTaskId.get(finished?.klingTaskId ?? '') ?? new Set();
      expect([...pollers].some((agent) => !agent.includes('gw-c'))).toBe(true);
    }
    await expectLedgerBalanced(key);
  }, 45_000);

  it('reports PostgreSQL, Redis and the upstream account in /readyz', async () => {
    const res = await fetch(new URL('/readyz', urlOf('gw-a')));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { database: 'ok', pubsub: 'ok', upstream: 'ok' } });
  });
});
