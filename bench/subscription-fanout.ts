// Subscription memory and fan-out: BENCH_SUBSCRIPTIONS WebSocket subscriptions to `taskUpdated`, one per
// socket and one per task, all held by this process (the client) while the server runs as a child;
// then one status change per task. The same is done against a bare graphql-ws + yoga server
// (bench/fixtures/bare-ws.ts) fed by an in-memory pub/sub.
//
// What the figures cover:
//   RSS per subscription   (server RSS with every subscription live and its first event received) minus
//                           (server RSS just before the first socket opened), over the count; both read
//                           after a settle and a full GC forced through the inspector (the servers run
//                           with --inspect), so what counts is what a live subscription retains: socket,
//                           graphql-ws and yoga state, pub/sub listener. Heap used is reported beside it.
//   fan-out time           from the bench sending the first change to the last subscriber receiving its
//                           event. A change enters each server the same way: one HTTP POST per task,
//                           BENCH_TRIGGER_CONCURRENCY at a time. For the gateway that POST is Kling's
//                           callback (`/kling/callback/<task>/<token>`, status processing), so the time
//                           includes reading the task, the guarded update committed to SQLite and the
//                           publish; for the bare server it is `POST /publish`, straight into the pub/sub.
//   commit -> receipt      per event: the subscriber's receive time minus the event's `updatedAt`, which
//                           the gateway stamps when it commits the change and the bare server when it
//                           publishes. Only the delivery path: pub/sub, execution, serialisation, socket.
// Target: RSS per subscription <= 20 KB; fan-out time <= 1.2x the bare server's.
//
//   npx tsx bench/subscription-fanout.ts                   10,000 subscriptions
//   BENCH_SUBSCRIPTIONS=2000 npx tsx bench/subscription-fanout.ts
//   BENCH_CPU_PROFILE=1 npx tsx bench/subscription-fanout.ts   also writes each server's CPU profile of the
//                                                              fan-out phase to bench/results/profiles/
//
// Everything listens on 127.0.0.1; the run stops itself after BENCH_MAX_SECONDS and kills its children.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY } from '../src/kling/simulator/simulator.js';
import { runBench, type BenchRun } from './lib/bench-run.js';
import { cpuPercent, gatewayEnv, sampleProcess, startGateway, startNodeChild, type NodeChild } from './lib/child-processes.js';
import { forEachConcurrently } from './lib/concurrency.js';
import { createApiKey, submitTask } from './lib/gateway-api.js';
import { INSPECTOR_PATTERN, openInspector, type Inspector } from './lib/inspector.js';
import { distribution, envFlag, envNumber, resultsDir, formatMs, formatRatio, machine, printTable, verdict, writeResult, type Distribution } from './lib/report.js';
import { openSubscriber, type Subscriber } from './lib/ws-subscriber.js';

const settings = {
  subscriptions: Math.round(envNumber('BENCH_SUBSCRIPTIONS', 10_000)),
  /** Sockets being opened at once; a browser fleet connects over time, not in one burst of 10,000. */
  openConcurrency: Math.round(envNumber('BENCH_OPEN_CONCURRENCY', 100)),
  triggerConcurrency: Math.round(envNumber('BENCH_TRIGGER_CONCURRENCY', 50)),
  submitConcurrency: Math.round(envNumber('BENCH_SUBMIT_CONCURRENCY', 50)),
  /** Pause before each memory reading, so the previous step's in-flight work is done before the forced GC. */
  settleSeconds: envNumber('BENCH_SETTLE_SECONDS', 3),
  /** Per phase (opening, delivery): what is not there by then counts as missing. */
  phaseTimeoutSeconds: envNumber('BENCH_PHASE_TIMEOUT_SECONDS', 60),
  maxSeconds: envNumber('BENCH_MAX_SECONDS', 300),
  /** Samples each server's CPU during the fan-out phase only (through the inspector). */
  cpuProfile: envFlag('BENCH_CPU_PROFILE'),
};
const TARGET_BYTES_PER_SUBSCRIPTION = 20 * 1024;
const TARGET_FANOUT_RATIO = 1.2;
/** Sockets the bench needs besides the subscriptions: pools, the simulator, the database, stdio. */
const DESCRIPTOR_HEADROOM = 200;
/** KLING_V1 standard 5 s, the task submitTask() asks for. */
const TASK_CREDITS = 10;

const TASK_UPDATED = /* GraphQL */ `
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { id status updatedAt }
  }
`;

interface TaskEvent {
  data?: { taskUpdated?: { id: string; status: string; updatedAt: string } };
}

interface Target {
  name: 'bare graphql-ws' | 'gateway';
  pid: number;
  inspector: Inspector;
  wsUrl: string;
  connectionParams: Record<string, unknown>;
  ids: readonly string[];
  /** Sends the one change for task `index`; rejects unless the server took it. */
  change(pool: Pool, index: number): Promise<void>;
  httpOrigin: string;
}

interface Phase {
  subscriptions: number;
  opened: number;
  openSeconds: number;
  rssBeforeMb: number;
  rssSubscribedMb: number;
  rssAfterDeliveryMb: number;
  bytesPerSubscription: number;
  heapBeforeMb: number;
  heapSubscribedMb: number;
  heapBytesPerSubscription: number;
  triggerSeconds: number;
  delivered: number;
  missing: number;
  subscriptionErrors: string[];
  fanOutMs: number;
  commitToReceiptMs: Distribution;
  serverCpuPercentDuringFanOut: number;
}

function descriptorLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    return Number.NaN;
  }
}

/** RSS and heap after a full collection in the server. */
async function readMemory(target: Pick<Target, 'pid' | 'inspector'>) {
  await target.inspector.collectGarbage();
  const { rssBytes } = sampleProcess(target.pid);
  const { usedSize } = await target.inspector.heapUsage();
  return { rssBytes, heapBytes: usedSize };
}

/** Resolves when `done()` says so, re-checked on every `poke()`, or after `timeoutMs` regardless. */
function waitUntil(done: () => boolean, timeoutMs: number) {
  let poke: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    poke = () => {
      if (!done()) return;
      clearTimeout(timer);
      resolve();
    };
  });
  return { reached, poke: () => poke() };
}

async function measure(run: BenchRun, target: Target): Promise<Phase> {
  const count = target.ids.length;
  const subscribers: Subscriber[] = [];
  const initial = new Uint8Array(count);
  const receivedAt = new Float64Array(count);
  const committedAt = new Float64Array(count);
  let subscribedCount = 0;
  let deliveredCount = 0;
  const errors: string[] = [];
  const phaseMs = settings.phaseTimeoutSeconds * 1000;
  // Armed when their phase starts, so each timeout counts from the first socket or the first change.
  let allSubscribed: ReturnType<typeof waitUntil> | undefined;
  let allDelivered: ReturnType<typeof waitUntil> | undefined;

  const onNext = (index: number) => (payload: unknown) => {
    const now = Date.now();
    const task = (payload as TaskEvent).data?.taskUpdated;
    if (!task) {
      errors.push(JSON.stringify(payload));
      return;
    }
    if (task.status === 'SUBMITTED' && initial[index] === 0) {
      initial[index] = 1;
      subscribedCount += 1;
      allSubscribed?.poke();
    } else if (task.status === 'PROCESSING' && receivedAt[index] === 0) {
      receivedAt[index] = now;
      committedAt[index] = Date.parse(task.updatedAt);
      deliveredCount += 1;
      allDelivered?.poke();
    }
  };

  try {
    await sleep(settings.settleSeconds * 1000);
    const before = await readMemory(target);
    run.log(`${target.name}: opening ${count} sockets, one subscription each (RSS ${(before.rssBytes / 2 ** 20).toFixed(0)} MB)`);
    const openStarted = Date.now();
    allSubscribed = waitUntil(() => subscribedCount === count, phaseMs);
    await forEachConcurrently(count, settings.openConcurrency, async (index) => {
      const subscriber = await openSubscriber({
        url: target.wsUrl,
        connectionParams: target.connectionParams,
        query: TASK_UPDATED,
        variables: { id: target.ids[index] },
        onNext: onNext(index),
        onError: (reason) => {
          if (errors.length < 20) errors.push(reason);
        },
      });
      subscribers.push(subscriber);
    });
    await allSubscribed.reached;
    const openSeconds = (Date.now() - openStarted) / 1000;
    run.log(`${target.name}: ${subscribedCount} of ${count} subscribed in ${openSeconds.toFixed(1)} s`);

    await sleep(settings.settleSeconds * 1000);
    const subscribed = await readMemory(target);
    run.log(`${target.name}: RSS ${(subscribed.rssBytes / 2 ** 20).toFixed(0)} MB; sending ${count} changes`);

    const pool = new Pool(target.httpOrigin, { connections: settings.triggerConcurrency });
    allDelivered = waitUntil(() => deliveredCount === count, phaseMs);
    const triggerStarted = Date.now();
    const cpuBefore = sampleProcess(target.pid);
    if (settings.cpuProfile) await target.inspector.startCpuProfile();
    await forEachConcurrently(count, settings.triggerConcurrency, (index) => target.change(pool, index));
    const triggerSeconds = (Date.now() - triggerStarted) / 1000;
    await allDelivered.reached;
    const cpuAfter = sampleProcess(target.pid);
    if (settings.cpuProfile) {
      const file = join(resultsDir, 'profiles', `${target.name.replace(/\W+/g, '-')}-fanout.cpuprofile`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(await target.inspector.stopCpuProfile()));
      run.log(`${target.name}: fan-out profile in ${file}`);
    }
    await pool.close();

    const latencies: number[] = [];
    let lastReceipt = 0;
    for (let index = 0; index < count; index++) {
      const at = receivedAt[index] ?? 0;
      if (at === 0) continue;
      lastReceipt = Math.max(lastReceipt, at);
      latencies.push(at - (committedAt[index] ?? 0));
    }
    await sleep(settings.settleSeconds * 1000);
    const afterDelivery = await readMemory(target);
    const phase: Phase = {
      subscriptions: count,
      opened: subscribedCount,
      openSeconds,
      rssBeforeMb: before.rssBytes / 2 ** 20,
      rssSubscribedMb: subscribed.rssBytes / 2 ** 20,
      rssAfterDeliveryMb: afterDelivery.rssBytes / 2 ** 20,
      bytesPerSubscription: (subscribed.rssBytes - before.rssBytes) / Math.max(1, subscribedCount),
      heapBeforeMb: before.heapBytes / 2 ** 20,
      heapSubscribedMb: subscribed.heapBytes / 2 ** 20,
      heapBytesPerSubscription: (subscribed.heapBytes - before.heapBytes) / Math.max(1, subscribedCount),
      triggerSeconds,
      delivered: deliveredCount,
      missing: count - deliveredCount,
      subscriptionErrors: errors.slice(0, 5),
      fanOutMs: deliveredCount === 0 ? Number.NaN : lastReceipt - triggerStarted,
      commitToReceiptMs: distribution(latencies),
      serverCpuPercentDuringFanOut: cpuPercent(cpuBefore, cpuAfter),
    };
    run.log(`${target.name}: ${deliveredCount} delivered, fan-out ${formatMs(phase.fanOutMs)}`);
    return phase;
  } finally {
    for (const subscriber of subscribers) subscriber.close();
  }
}

/** Registered after the child, so the cleanups close the session before they stop the child. */
async function attachInspector(run: BenchRun, child: NodeChild): Promise<Inspector> {
  const url = INSPECTOR_PATTERN.exec(child.output())?.[1];
  if (!url) throw new Error(`no inspector URL in the output of pid ${child.pid}`);
  const inspector = await openInspector(url);
  run.onCleanup(() => inspector.close());
  return inspector;
}

/** Kling's callback body for a task that turned `processing`, as the simulator would render it. */
function processingCallback(klingTaskId: string, externalId: string): string {
  const now = Date.now();
  return JSON.stringify({
    task_id: klingTaskId,
    task_status: 'processing',
    task_status_msg: '',
    task_info: { external_task_id: externalId },
    created_at: now,
    updated_at: now,
  });
}

async function expectOk(response: Promise<{ statusCode: number; body: { text(): Promise<string> } }>, expected: string) {
  const { statusCode, body } = await response;
  const text = await body.text();
  if (statusCode !== 200 || !text.includes(expected)) throw new Error(`change refused: HTTP ${statusCode} ${text}`);
}

runBench({ maxSeconds: settings.maxSeconds }, async (run) => {
  const limit = descriptorLimit();
  const count = Number.isFinite(limit) ? Math.min(settings.subscriptions, limit - DESCRIPTOR_HEADROOM) : settings.subscriptions;
  if (count < settings.subscriptions) {
    run.log(`ulimit -n is ${limit}: running ${count} subscriptions instead of ${settings.subscriptions}`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-bench-'));
  run.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const databaseFile = join(dir, 'gateway.db');
  // Accepts the tasks, then idles: no task finishes and nothing polls during the measurement.
  const simulator = createKlingSimulator({ host: '127.0.0.1', port: 0, taskSeconds: 3600 });
  run.onCleanup(() => simulator.stop());
  const simulatorUrl = await simulator.start();
  const adminToken = randomBytes(24).toString('base64url');
  const gateway = await startGateway(
    run,
    gatewayEnv(databaseFile, {
      KLING_BASE_URL: simulatorUrl,
      KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
      KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
      ADMIN_TOKEN: adminToken,
      // One key holds every task and every socket, as one busy integration would.
      KEY_MAX_ACTIVE_TASKS: String(count + 1),
      WS_MAX_CONNECTIONS_PER_KEY: String(count + 1),
      RATE_LIMIT_POINTS: '1000000000',
      // The bench's callbacks are the only changes: the poller does not look at a task during the run.
      POLL_FIRST_DELAY_MS: '3600000',
      TASK_DEADLINE_SECONDS: '7200',
    }),
    ['--inspect=127.0.0.1:0'],
  );
  const gatewayInspector = await attachInspector(run, gateway);
  run.log(`gateway ${gateway.url} (pid ${gateway.pid}); submitting ${count} tasks`);

  const { key, id: keyId } = await createApiKey(gateway.url, adminToken, 'bench', count * TASK_CREDITS);
  let submitted = 0;
  await forEachConcurrently(count, settings.submitConcurrency, async (index) => {
    const outcome = await submitTask(gateway.url, key, `Bench clip ${index}`);
    if ('refused' in outcome) throw new Error(`task ${index} refused: ${outcome.refused}`);
    submitted += 1;
    if (submitted % 2000 === 0) run.log(`${submitted} tasks submitted`);
  });

  const reader = new Database(databaseFile, { readonly: true, fileMustExist: true });
  const tasks = reader
    .prepare<[string], { id: string; klingTaskId: string; callbackToken: string }>(
      'SELECT id, kling_task_id AS klingTaskId, callback_token AS callbackToken FROM tasks WHERE api_key_id = ? ORDER BY created_at',
    )
    .all(keyId);
  reader.close();
  if (tasks.length !== count) throw new Error(`expected ${count} tasks in the database, found ${tasks.length}`);

  const bare = await startNodeChild(run, {
    script: 'bench/fixtures/bare-ws.ts',
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0' },
    nodeArgs: ['--inspect=127.0.0.1:0'],
    readyPattern: /Bare graphql-ws ready at (http:\S+)/,
    label: 'bare-ws',
  });
  const bareInspector = await attachInspector(run, bare);
  const bareUrl = new URL(bare.ready[1] ?? '');
  const bareIds = tasks.map((_, index) => `task-${index}`);
  const barePhase = await measure(run, {
    name: 'bare graphql-ws',
    pid: bare.pid,
    inspector: bareInspector,
    wsUrl: bareUrl.href.replace(/^http/, 'ws'),
    connectionParams: {},
    ids: bareIds,
    httpOrigin: bareUrl.origin,
    change: (pool, index) =>
      expectOk(
        pool.request({
          path: '/publish',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: bareIds[index] }),
        }),
        '"ok":true',
      ),
  });
  await bareInspector.close();
  await bare.stop();

  const gatewayUrl = new URL(gateway.url);
  const gatewayPhase = await measure(run, {
    name: 'gateway',
    pid: gateway.pid,
    inspector: gatewayInspector,
    wsUrl: gatewayUrl.href.replace(/^http/, 'ws'),
    connectionParams: { authorization: `Bearer ${key}` },
    ids: tasks.map((task) => task.id),
    httpOrigin: gatewayUrl.origin,
    change: (pool, index) => {
      const task = tasks[index];
      if (!task) throw new Error(`no task ${index}`);
      return expectOk(
        pool.request({
          path: `/kling/callback/${task.id}/${task.callbackToken}`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: processingCallback(task.klingTaskId, task.id),
        }),
        '"outcome":"applied"',
      );
    },
  });

  const ratio = gatewayPhase.fanOutMs / barePhase.fanOutMs;
  const memoryMet = gatewayPhase.bytesPerSubscription <= TARGET_BYTES_PER_SUBSCRIPTION;
  const complete = gatewayPhase.missing === 0 && gatewayPhase.opened === count;
  const fanOutMet = ratio <= TARGET_FANOUT_RATIO && complete;
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const mb = (value: number) => `${value.toFixed(0)} MB`;
  const both = (pick: (phase: Phase) => string) => [pick(barePhase), pick(gatewayPhase)];
  const rows: string[][] = [
    ['figure', 'bare graphql-ws', 'gateway', 'gateway / bare', 'target'],
    ['subscriptions live (first event received)', ...both((p) => `${p.opened} of ${p.subscriptions}`), '', ''],
    ['time to open them all', ...both((p) => `${p.openSeconds.toFixed(1)} s`), formatRatio(gatewayPhase.openSeconds / barePhase.openSeconds), ''],
    ['server RSS before -> subscribed (after full GC)', ...both((p) => `${mb(p.rssBeforeMb)} -> ${mb(p.rssSubscribedMb)}`), '', ''],
    [
      'RSS per subscription',
      ...both((p) => kb(p.bytesPerSubscription)),
      formatRatio(gatewayPhase.bytesPerSubscription / barePhase.bytesPerSubscription),
      `<= 20 KB ${verdict(memoryMet)}`,
    ],
    [
      '  of which JS heap',
      ...both((p) => kb(p.heapBytesPerSubscription)),
      formatRatio(gatewayPhase.heapBytesPerSubscription / barePhase.heapBytesPerSubscription),
      '',
    ],
    ['changes sent (HTTP, all answered)', ...both((p) => `${p.triggerSeconds.toFixed(2)} s`), formatRatio(gatewayPhase.triggerSeconds / barePhase.triggerSeconds), ''],
    ['events delivered', ...both((p) => `${p.delivered} of ${p.subscriptions}`), '', ''],
    ['fan-out time: first change sent -> last event', ...both((p) => formatMs(p.fanOutMs)), formatRatio(ratio), `<= 1.2x ${verdict(fanOutMet)}`],
    ['commit -> receipt p50', ...both((p) => formatMs(p.commitToReceiptMs.p50)), formatRatio(gatewayPhase.commitToReceiptMs.p50 / barePhase.commitToReceiptMs.p50), ''],
    ['commit -> receipt p99', ...both((p) => formatMs(p.commitToReceiptMs.p99)), formatRatio(gatewayPhase.commitToReceiptMs.p99 / barePhase.commitToReceiptMs.p99), ''],
    ['commit -> receipt max', ...both((p) => formatMs(p.commitToReceiptMs.max)), '', ''],
    ['server CPU during fan-out', ...both((p) => `${p.serverCpuPercentDuringFanOut.toFixed(0)} %`), '', ''],
    ['server RSS after delivery', ...both((p) => mb(p.rssAfterDeliveryMb)), '', ''],
  ];
  printTable(
    `subscription fan-out: ${count} sockets x 1 subscription` +
      (count < settings.subscriptions ? ` (requested ${settings.subscriptions}; ulimit -n ${limit})` : '') +
      `, changes ${settings.triggerConcurrency} at a time`,
    rows,
  );

  const written = writeResult('subscription-fanout', {
    at: new Date(run.startedAt).toISOString(),
    settings,
    ran: count,
    descriptorLimit: limit,
    machine: machine(),
    bare: barePhase,
    gateway: gatewayPhase,
    fanOutRatio: ratio,
    targets: {
      bytesPerSubscription: { target: TARGET_BYTES_PER_SUBSCRIPTION, met: memoryMet },
      fanOutRatio: { target: TARGET_FANOUT_RATIO, met: fanOutMet },
    },
  });
  console.log(`\nwrote ${written}`);
  if (!complete || barePhase.missing > 0) process.exitCode = 1;
});
