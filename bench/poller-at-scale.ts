// Poller at scale: puts BENCH_TASKS tasks in flight at once through a real `tsx src/main.ts` child and
// measures what Kling would see (status queries per second against the configured budget), what the
// gateway costs while it only polls (CPU of its process), and how long a subscriber waits between
// a task finishing at Kling and hearing SUCCEEDED.
//
//   npx tsx bench/poller-at-scale.ts                      10,000 tasks, 10 s window
//   BENCH_TASKS=1000 BENCH_WINDOW_SECONDS=5 npx tsx bench/poller-at-scale.ts
//
// Everything listens on 127.0.0.1; the run stops itself after BENCH_MAX_SECONDS and kills its child.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY } from '../src/kling/simulator/simulator.js';
import { cheapestInput, createApiKey, GENERATE_VIDEO, graphql, type GenerateVideoData } from './lib/gateway-api.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

const settings = {
  tasks: Math.round(envNumber('BENCH_TASKS', 10_000)),
  windowSeconds: envNumber('BENCH_WINDOW_SECONDS', 10),
  /** Time after the last submit before the window opens, so the poller's burst allowance is spent. */
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  /** Long enough that every task is still open at Kling while the window runs. */
  taskSeconds: envNumber('BENCH_TASK_SECONDS', 25),
  pollRequestsPerSecond: Math.round(envNumber('BENCH_POLL_RPS', 200)),
  pollFirstDelayMs: Math.round(envNumber('BENCH_POLL_FIRST_DELAY_MS', 2_000)),
  pollMaxIntervalMs: Math.round(envNumber('BENCH_POLL_MAX_INTERVAL_MS', 15_000)),
  sample: Math.round(envNumber('BENCH_SAMPLE', 100)),
  submitConcurrency: Math.round(envNumber('BENCH_SUBMIT_CONCURRENCY', 50)),
  /** The whole run, startup to report; samples still waiting then are reported as missing. */
  maxSeconds: envNumber('BENCH_MAX_SECONDS', 170),
};
/** KLING_V1, standard, 5 s: the cheapest task in the price table. */
const TASK_CREDITS = 10;
/** The default per-connection subscription cap is 50; stay under it whatever the gateway's settings. */
const SUBSCRIPTIONS_PER_SOCKET = 40;

const startedAt = Date.now();
const deadline = startedAt + settings.maxSeconds * 1000;
const log = (message: string) => console.error(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`);

interface ProcessCpu {
  /** user + system CPU, in seconds. */
  cpuSeconds: number;
  rssBytes: number;
}

const clockTicksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime from /proc/<pid>/stat (fields 14 and 15, counted after the parenthesised name). */
function readProcessCpu(pid: number): ProcessCpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSeconds: ticks / clockTicksPerSecond, rssBytes: rssPages * 4096 };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

const TASK_UPDATED = /* GraphQL */ `
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { id status videos { url } }
  }
`;

interface TaskEvent {
  taskUpdated: { id: string; status: string; videos: { url: string }[] };
}

/** Spawns the gateway as plain `node --import tsx`, so the pid is the gateway itself for /proc. */
async function spawnGateway(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[gateway] ${chunk.toString()}`));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Gateway ready at (http:\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`the gateway exited (${code ?? signal}) before it was ready:\n${out}`)));
  });
  return { child, url };
}

async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid, 'SIGTERM');
  const forced = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(forced);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-bench-'));
  const simulator = createKlingSimulator({ host: '127.0.0.1', port: 0, taskSeconds: settings.taskSeconds });
  let gateway: ChildProcess | undefined;
  const sockets: Client[] = [];

  const cleanUp = async () => {
    await Promise.all(sockets.map(async (socket) => {
      await socket.dispose();
    }));
    if (gateway) await stopGateway(gateway);
    await simulator.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // The last resort: a run that hangs still ends, and takes its child with it.
  const watchdog = setTimeout(() => {
    log('watchdog: the run overran; killing the gateway');
    if (gateway?.pid !== undefined) process.kill(-gateway.pid, 'SIGKILL');
    process.exit(1);
  }, (settings.maxSeconds + 30) * 1000);
  watchdog.unref();

  try {
    const simulatorUrl = await simulator.start();
    const adminToken = randomBytes(24).toString('base64url');
    const started = await spawnGateway({
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? dir,
      NODE_ENV: 'development',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: join(dir, 'gateway.db'),
      KLING_BASE_URL: simulatorUrl,
      KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
      KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
      ADMIN_TOKEN: adminToken,
      DEMO_KEY: 'false',
      LOG_LEVEL: 'warn',
      // One key holds every task at Kling at once; the gateway's queue is not what is measured here.
      KEY_MAX_ACTIVE_TASKS: String(settings.tasks + 1),
      POLL_REQUESTS_PER_SECOND: String(settings.pollRequestsPerSecond),
      POLL_FIRST_DELAY_MS: String(settings.pollFirstDelayMs),
      POLL_MAX_INTERVAL_MS: String(settings.pollMaxIntervalMs),
      TASK_DEADLINE_SECONDS: '3600',
      // The submit loop is one client sending BENCH_TASKS mutations; the per-key operation limit would refuse most.
      RATE_LIMIT_POINTS: String(settings.tasks * 10),
    });
    gateway = started.child;
    const gatewayPid = gateway.pid ?? 0;
    const url = started.url;
    log(`gateway ${url} (pid ${gatewayPid}), simulator ${simulatorUrl}, ${settings.tasks} tasks of ${settings.taskSeconds} s`);

    const { key } = await createApiKey(url, adminToken, 'bench', settings.tasks * TASK_CREDITS);

    // Subscribers to an evenly spread sample, each opened as soon as its task exists.
    const every = Math.max(1, Math.floor(settings.tasks / settings.sample));
    const received = new Map<string, { at: number; klingTaskId: string | undefined }>();
    const subscriptionErrors: string[] = [];
    const wsUrl = url.replace(/^http/, 'ws');
    let subscribed = 0;
    let onReceived: () => void = () => undefined;
    const subscribe = (id: string) => {
      const socketIndex = Math.floor(subscribed / SUBSCRIPTIONS_PER_SOCKET);
      subscribed += 1;
      sockets[socketIndex] ??= createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        retryAttempts: 0,
      });
      sockets[socketIndex].subscribe<TaskEvent>(
        { query: TASK_UPDATED, variables: { id } },
        {
          next: (payload) => {
            const task = payload.data?.taskUpdated;
            if (task?.status !== 'SUCCEEDED' || received.has(id)) return;
            // Video links look like /videos/<kling task id>/<video id>.mp4 (the simulator's layout).
            const klingTaskId = /\/videos\/(\d+)\//.exec(task.videos[0]?.url ?? '')?.[1];
            received.set(id, { at: Date.now(), klingTaskId });
            onReceived();
          },
          error: (error) => {
            subscriptionErrors.push(JSON.stringify(error));
            onReceived();
          },
          complete: () => undefined,
        },
      );
    };

    const submitStarted = Date.now();
    let next = 0;
    let submitted = 0;
    const refusals = new Map<string, number>();
    const worker = async () => {
      while (next < settings.tasks && Date.now() < deadline) {
        const n = next++;
        const data = await graphql<GenerateVideoData>(url, key, GENERATE_VIDEO, { input: cheapestInput(`Bench clip ${n}`) });
        const task = data.generateVideo.task;
        if (!task) {
          const code = data.generateVideo.code ?? data.generateVideo.__typename;
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
          continue;
        }
        submitted += 1;
        if (n % every === 0 && subscribed < settings.sample) subscribe(task.id);
        if (submitted % 1000 === 0) log(`${submitted} tasks submitted`);
      }
    };
    await Promise.all(Array.from({ length: settings.submitConcurrency }, worker));
    const submitSeconds = (Date.now() - submitStarted) / 1000;
    log(`submitted ${submitted} in ${submitSeconds.toFixed(1)} s; measuring for ${settings.windowSeconds} s`);

    // The window: no client traffic, the tasks open at the gateway, the poller working through them.
    // It opens after a warm-up: a token bucket that filled while submits kept the process busy would
    // otherwise add up to one second's budget to the window's rate.
    await new Promise((resolve) => setTimeout(resolve, settings.warmupSeconds * 1000));
    const reader = new Database(join(dir, 'gateway.db'), { readonly: true, fileMustExist: true });
    const openTasks = reader.prepare<[], { n: number }>("SELECT count(*) AS n FROM tasks WHERE status IN ('QUEUED', 'SUBMITTED', 'PROCESSING')");
    const snapshot = () => ({
      at: Date.now(),
      gets: simulator.stats.requests.get,
      creates: simulator.stats.requests.create,
      cpu: readProcessCpu(gatewayPid),
      open: openTasks.get()?.n ?? 0,
    });
    const before = snapshot();
    await new Promise((resolve) => setTimeout(resolve, settings.windowSeconds * 1000));
    const after = snapshot();
    reader.close();
    const windowSeconds = (after.at - before.at) / 1000;
    const getsPerSecond = (after.gets - before.gets) / windowSeconds;
    const cpuPercent = ((after.cpu.cpuSeconds - before.cpu.cpuSeconds) / windowSeconds) * 100;
    log(`window: ${getsPerSecond.toFixed(1)} status queries/s, gateway CPU ${cpuPercent.toFixed(1)} %`);

    // Latency: wait for every sampled task's SUCCEEDED, up to the run's deadline.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      onReceived = () => {
        if (received.size < subscribed && subscriptionErrors.length === 0) return;
        clearTimeout(timer);
        resolve();
      };
      onReceived();
    });
    const latenciesMs: number[] = [];
    for (const { at, klingTaskId } of received.values()) {
      const finishedAt = Number(simulator.peekTask(klingTaskId ?? '')?.['updated_at']);
      if (Number.isFinite(finishedAt)) latenciesMs.push(at - finishedAt);
    }
    latenciesMs.sort((a, b) => a - b);
    const budgetIntervalMs = (settings.tasks / settings.pollRequestsPerSecond) * 1000;
    const expectedIntervalMs = Math.max(settings.pollMaxIntervalMs, budgetIntervalMs);
    const boundMs = expectedIntervalMs + 100;
    const perExternalId = [...simulator.stats.tasksPerExternalId.values()];

    const result = {
      at: new Date(startedAt).toISOString(),
      settings,
      machine: { cpus: cpus().length, node: process.version },
      submit: {
        submitted,
        refusals: Object.fromEntries(refusals),
        seconds: submitSeconds,
        perSecond: submitted / submitSeconds,
      },
      window: {
        seconds: windowSeconds,
        statusQueries: after.gets - before.gets,
        statusQueriesPerSecond: getsPerSecond,
        budgetPerSecond: settings.pollRequestsPerSecond,
        shareOfBudget: getsPerSecond / settings.pollRequestsPerSecond,
        createsDuringWindow: after.creates - before.creates,
        openTasksAtStart: before.open,
        openTasksAtEnd: after.open,
      },
      gatewayCpu: {
        percentOfOneCore: cpuPercent,
        cpuSecondsInWindow: after.cpu.cpuSeconds - before.cpu.cpuSeconds,
        cpuMsPerStatusQuery: ((after.cpu.cpuSeconds - before.cpu.cpuSeconds) * 1000) / Math.max(1, after.gets - before.gets),
        rssMb: after.cpu.rssBytes / 2 ** 20,
      },
      latency: {
        sampled: subscribed,
        received: latenciesMs.length,
        subscriptionErrors: subscriptionErrors.slice(0, 5),
        p50Ms: percentile(latenciesMs, 50),
        p95Ms: percentile(latenciesMs, 95),
        maxMs: latenciesMs.at(-1) ?? Number.NaN,
        minMs: latenciesMs[0] ?? Number.NaN,
        pollMaxIntervalMs: settings.pollMaxIntervalMs,
        budgetBoundIntervalMs: budgetIntervalMs,
        boundMs,
        withinBound: latenciesMs.filter((ms) => ms <= boundMs).length,
      },
      upstream: {
        requests: simulator.stats.requests,
        tasksAtKling: perExternalId.length,
        maxTasksPerExternalId: Math.max(0, ...perExternalId),
      },
      totalSeconds: (Date.now() - startedAt) / 1000,
    };

    const rows: [string, string][] = [
      ['tasks submitted', `${submitted} in ${submitSeconds.toFixed(1)} s (${result.submit.perSecond.toFixed(0)}/s)`],
      ['tasks at Kling, max per external id', `${perExternalId.length}, ${result.upstream.maxTasksPerExternalId}`],
      ['window (open tasks at start -> end)', `${windowSeconds.toFixed(1)} s (${before.open} -> ${after.open})`],
      ['status queries/s (budget)', `${getsPerSecond.toFixed(1)} (${settings.pollRequestsPerSecond}) = ${(result.window.shareOfBudget * 100).toFixed(0)} %`],
      ['gateway CPU while polling', `${cpuPercent.toFixed(1)} % of one core, ${result.gatewayCpu.cpuMsPerStatusQuery.toFixed(2)} ms/query`],
      ['gateway RSS', `${result.gatewayCpu.rssMb.toFixed(0)} MB`],
      ['change -> subscriber, p50 / p95 / max', `${fmt(result.latency.p50Ms)} / ${fmt(result.latency.p95Ms)} / ${fmt(result.latency.maxMs)}`],
      ['  samples received', `${latenciesMs.length} of ${subscribed}`],
      ['  bound: max(poll max interval, tasks/budget) + 100 ms', `max(${fmt(settings.pollMaxIntervalMs)}, ${fmt(budgetIntervalMs)}) + 100 ms = ${fmt(boundMs)}`],
      ['  within bound', `${result.latency.withinBound} of ${latenciesMs.length}`],
      ['total run', `${result.totalSeconds.toFixed(1)} s`],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    console.log(`\npoller at scale: ${settings.tasks} tasks, ${settings.taskSeconds} s each, POLL_REQUESTS_PER_SECOND=${settings.pollRequestsPerSecond}`);
    for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);

    const resultsDir = join(root, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, 'poller-at-scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote bench/results/poller-at-scale.json`);
    if (subscriptionErrors.length > 0) process.exitCode = 1;
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`) : 'n/a';
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
