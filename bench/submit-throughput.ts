// Submit throughput: `generateVideo` through a gateway on a fresh database (an empty ledger but for the
// one grant that funds the key), against the Kling simulator, both child processes; autocannon sends
// BENCH_SUBMITS mutations back to back from this process over 50 connections (saturation: accepted/s),
// then BENCH_PACED_SUBMITS more due evenly at 500/s, open loop (bench/lib/paced-load.ts: the latency
// at the target rate). Targets: >= 500 accepted/s at saturation, p99 < 50 ms at 500/s. Afterwards the
// books must balance exactly: `me` and the credit ledger both show accepted x price held, and the
// balance is the grant minus that.
//
//   npx tsx bench/submit-throughput.ts                     5,000 submits, 50 connections
//   BENCH_SUBMITS=2000 BENCH_CONNECTIONS=20 npx tsx bench/submit-throughput.ts
//   BENCH_CPU_PROFILE=1 npx tsx bench/submit-throughput.ts    the gateway under --cpu-prof (slower), then
//   npx tsx bench/profile-summary.ts bench/results/profiles/gateway-submit-throughput.cpuprofile
//
// Everything listens on 127.0.0.1; the run stops itself after BENCH_MAX_SECONDS and kills its children.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { DEFAULT_SIMULATOR_KEY } from '../src/kling/simulator/simulator.js';
import { runBench } from './lib/bench-run.js';
import { cpuPercent, gatewayEnv, sampleProcess, startGateway, startNodeChild } from './lib/child-processes.js';
import { cpuProfileArgs, keepMainThreadProfile } from './lib/cpu-profile.js';
import { pacedLoad } from './lib/paced-load.js';
import { cheapestInput, createApiKey, GENERATE_VIDEO, graphql, type GenerateVideoData } from './lib/gateway-api.js';
import { envFlag, envNumber, formatMs, machine, printTable, verdict, writeResult } from './lib/report.js';

const settings = {
  submits: Math.round(envNumber('BENCH_SUBMITS', 5_000)),
  /** Offered at the target rate after the saturation phase, for the latency target. */
  pacedSubmits: Math.round(envNumber('BENCH_PACED_SUBMITS', 5_000)),
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 50)),
  cpuProfile: envFlag('BENCH_CPU_PROFILE'),
  maxSeconds: envNumber('BENCH_MAX_SECONDS', 150),
};
const TARGET_ACCEPTED_PER_SECOND = 500;
const TARGET_P99_MS = 50;
/** Far more than the run can spend, so every refusal seen is the gateway's own doing. */
const GRANT = 100_000_000;

const ME = /* GraphQL */ `
  query Me { me { creditBalance creditsHeld creditsUsed } }
`;

interface Me {
  me: { creditBalance: number; creditsHeld: number; creditsUsed: number };
}

interface LedgerTotals {
  tasks: number;
  tasksAtKling: number;
  tasksByStatus: Record<string, number>;
  ledger: Record<string, { rows: number; amount: number }>;
  apiKey: { creditBalance: number; creditsHeld: number; creditsUsed: number };
}

function readBooks(databaseFile: string, keyId: string): LedgerTotals {
  const db = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    const byStatus = db
      .prepare<[string], { status: string; n: number }>('SELECT status, count(*) AS n FROM tasks WHERE api_key_id = ? GROUP BY status')
      .all(keyId);
    const atKling = db
      .prepare<[string], { n: number }>('SELECT count(*) AS n FROM tasks WHERE api_key_id = ? AND kling_task_id IS NOT NULL')
      .get(keyId);
    const ledger = db
      .prepare<[string], { kind: string; rows: number; amount: number }>(
        'SELECT kind, count(*) AS rows, sum(amount) AS amount FROM credit_ledger WHERE api_key_id = ? GROUP BY kind',
      )
      .all(keyId);
    const apiKey = db
      .prepare<[string], LedgerTotals['apiKey']>(
        'SELECT credit_balance AS creditBalance, credits_held AS creditsHeld, credits_used AS creditsUsed FROM api_keys WHERE id = ?',
      )
      .get(keyId);
    if (!apiKey) throw new Error(`key ${keyId} is not in the database`);
    return {
      tasks: byStatus.reduce((sum, row) => sum + row.n, 0),
      tasksAtKling: atKling?.n ?? 0,
      tasksByStatus: Object.fromEntries(byStatus.map((row) => [row.status, row.n])),
      ledger: Object.fromEntries(ledger.map((row) => [row.kind, { rows: row.rows, amount: row.amount }])),
      apiKey,
    };
  } finally {
    db.close();
  }
}

runBench({ maxSeconds: settings.maxSeconds }, async (run) => {
  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-bench-'));
  run.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const databaseFile = join(dir, 'gateway.db');

  // Its own process: Kling's answer time is part of every submit, and must not queue behind autocannon.
  const simulator = await startNodeChild(run, {
    script: 'src/kling/simulator/main.ts',
    env: {
      PATH: process.env['PATH'] ?? '',
      SIMULATOR_HOST: '127.0.0.1',
      SIMULATOR_PORT: '0',
      // No task finishes during the run, so every accepted task is still held when the books are checked.
      SIMULATOR_TASK_SECONDS: '3600',
    },
    readyPattern: /Kling simulator listening at (http:\S+)/,
    label: 'simulator',
  });
  const adminToken = randomBytes(24).toString('base64url');
  const gateway = await startGateway(
    run,
    gatewayEnv(databaseFile, {
      KLING_BASE_URL: simulator.ready[1] ?? '',
      KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
      KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
      ADMIN_TOKEN: adminToken,
      // Otherwise tasks beyond 20 wait QUEUED for a slot, and the per-key operation budget refuses most submits.
      KEY_MAX_ACTIVE_TASKS: String((settings.submits + settings.pacedSubmits) * 2),
      RATE_LIMIT_POINTS: '1000000000',
    }),
    settings.cpuProfile ? cpuProfileArgs(join(dir, 'profiles')) : [],
  );
  run.log(`gateway ${gateway.url} (pid ${gateway.pid}), simulator ${simulator.ready[1] ?? ''} (pid ${simulator.pid})`);
  const { key, id: keyId } = await createApiKey(gateway.url, adminToken, 'bench', GRANT);

  let sent = 0;
  let accepted = 0;
  const prices = new Set<number>();
  const refusals = new Map<string, number>();
  const refuse = (code: string) => refusals.set(code, (refusals.get(code) ?? 0) + 1);
  const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${key}` };
  // A prompt of its own per submit.
  const nextBody = () => JSON.stringify({ query: GENERATE_VIDEO, variables: { input: cheapestInput(`Bench clip ${sent++}`) } });
  const onResponse = (status: number, body: string) => {
    if (status !== 200) return refuse(`HTTP ${status}`);
    const answer = JSON.parse(body) as { data?: GenerateVideoData | null; errors?: { extensions?: { code?: string } }[] };
    const task = answer.data?.generateVideo.task;
    if (task) {
      accepted += 1;
      prices.add(task.credits);
      return;
    }
    refuse(answer.data?.generateVideo.code ?? answer.errors?.[0]?.extensions?.code ?? 'UNKNOWN');
  };

  // Phase 1, saturation: all 50 connections back to back measure the most the gateway accepts per second.
  const before = sampleProcess(gateway.pid);
  const simulatorBefore = sampleProcess(simulator.pid);
  const result = await autocannon({
    url: gateway.url,
    connections: settings.connections,
    // A fixed amount, not a duration: autocannon then waits for every answer, so "accepted" is exact.
    amount: settings.submits,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers,
        // (autocannon's idReplacement keeps the template's Content-Length, so a longer id would leave
        // the server waiting for bytes that never come.)
        setupRequest: (request) => ({ ...request, body: nextBody() }),
        onResponse,
      },
    ],
  });
  const after = sampleProcess(gateway.pid);
  const simulatorAfter = sampleProcess(simulator.pid);
  const acceptedAtSaturation = accepted;
  const acceptedPerSecond = accepted / result.duration;
  run.log(`${accepted} accepted in ${result.duration.toFixed(1)} s at saturation; now ${settings.pacedSubmits} at ${TARGET_ACCEPTED_PER_SECOND}/s`);

  // Phase 2, at the target rate: with 50 connections kept busy, latency is 50 / throughput by Little's
  // law (100 ms at 500/s), so p99 < 50 ms is a figure for 500 submits/s offered, not for saturation.
  const paced = await pacedLoad({
    url: gateway.url,
    connections: settings.connections,
    rate: TARGET_ACCEPTED_PER_SECOND,
    amount: settings.pacedSubmits,
    headers,
    body: nextBody,
    onResponse,
  });
  const pacedPerSecond = (accepted - acceptedAtSaturation) / paced.seconds;
  run.log(`${accepted} accepted in all; checking the books`);
  const cpuMsPerSubmit = ((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(acceptedAtSaturation, 1);

  if (prices.size > 1) throw new Error(`one input, several prices: ${[...prices].join(', ')}`);
  const price = [...prices][0] ?? 0;
  const { me } = await graphql<Me>(gateway.url, key, ME);
  const books = readBooks(databaseFile, keyId);
  const expectedHeld = accepted * price;
  const ledgerAmount = (kind: string) => books.ledger[kind]?.amount ?? 0;
  const checks: [string, boolean, string][] = [
    ['tasks stored = accepted', books.tasks === accepted, `${books.tasks} = ${accepted}`],
    ['tasks at Kling = accepted', books.tasksAtKling === accepted, `${books.tasksAtKling} = ${accepted}`],
    ['me.creditsHeld = accepted x price', me.creditsHeld === expectedHeld, `${me.creditsHeld} = ${accepted} x ${price} = ${expectedHeld}`],
    ['ledger holds = accepted x price', ledgerAmount('hold') === expectedHeld, `${ledgerAmount('hold')} in ${books.ledger['hold']?.rows ?? 0} rows`],
    ['me.creditBalance = grant - held', me.creditBalance === GRANT - expectedHeld, `${me.creditBalance} = ${GRANT} - ${expectedHeld}`],
    [
      'ledger grant - hold + refund = balance',
      ledgerAmount('grant') - ledgerAmount('hold') + ledgerAmount('refund') === me.creditBalance,
      `${ledgerAmount('grant')} - ${ledgerAmount('hold')} + ${ledgerAmount('refund')} = ${me.creditBalance}`,
    ],
    ['me = api_keys row', JSON.stringify(me) === JSON.stringify(books.apiKey), JSON.stringify(books.apiKey)],
    ['nothing charged or refunded yet', me.creditsUsed === 0 && ledgerAmount('refund') === 0, `used ${me.creditsUsed}`],
  ];
  const booksExact = checks.every(([, ok]) => ok);
  const throughputMet = acceptedPerSecond >= TARGET_ACCEPTED_PER_SECOND;
  const latencyMet = paced.latencyMs.p99 < TARGET_P99_MS;

  const latencies = (p50: number, p90: number, p99: number, max: number) =>
    `${formatMs(p50)} / ${formatMs(p90)} / ${formatMs(p99)} / ${formatMs(max)}`;
  printTable(`submit throughput: generateVideo over ${settings.connections} connections, fresh database`, [
    ['figure', 'value', 'target', ''],
    ['accepted', `${accepted} of ${result.requests.total + paced.sent}`, '', ''],
    ['refused', refusals.size === 0 ? '0' : JSON.stringify(Object.fromEntries(refusals)), '', ''],
    [`saturation: ${settings.submits} back to back`, `${result.duration.toFixed(2)} s`, '', ''],
    ['  accepted/s', acceptedPerSecond.toFixed(0), `>= ${TARGET_ACCEPTED_PER_SECOND}`, verdict(throughputMet)],
    ['  latency p50 / p90 / p99 / max', latencies(result.latency.p50, result.latency.p90, result.latency.p99, result.latency.max), '', ''],
    [`paced: ${settings.pacedSubmits} due evenly at ${TARGET_ACCEPTED_PER_SECOND}/s`, `${paced.seconds.toFixed(2)} s`, '', ''],
    ['  accepted/s', pacedPerSecond.toFixed(0), '', ''],
    ['  latency p50 / p95 / p99 / max', latencies(paced.latencyMs.p50, paced.latencyMs.p95, paced.latencyMs.p99, paced.latencyMs.max), '', ''],
    ['  latency p99 (from when each was due)', formatMs(paced.latencyMs.p99), `< ${TARGET_P99_MS} ms`, verdict(latencyMet)],
    ['gateway CPU (one core = 100 %)', `${cpuPercent(before, after).toFixed(0)} %`, '', ''],
    // Steadier than req/s on a shared machine: what one submit costs the gateway, whatever else ran.
    ['gateway CPU per accepted submit', formatMs(cpuMsPerSubmit), '', ''],
    ['simulator CPU', `${cpuPercent(simulatorBefore, simulatorAfter).toFixed(0)} %`, '', ''],
    ['books exact (checks below)', booksExact ? 'yes' : 'NO', 'exact', verdict(booksExact)],
    ...checks.map(([label, ok, detail]) => [`  ${label}`, detail, '', ok ? 'ok' : 'WRONG']),
  ], [1]);

  const written = writeResult(settings.cpuProfile ? 'submit-throughput-profiled' : 'submit-throughput', {
    at: new Date(run.startedAt).toISOString(),
    settings,
    machine: machine(),
    accepted,
    sent: result.requests.total + paced.sent,
    refusals: Object.fromEntries(refusals),
    seconds: result.duration,
    acceptedPerSecond,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p97_5: result.latency.p97_5,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    paced: {
      offeredPerSecond: TARGET_ACCEPTED_PER_SECOND,
      ...paced,
      acceptedPerSecond: pacedPerSecond,
    },
    gatewayCpuPercent: cpuPercent(before, after),
    gatewayCpuMsPerSubmit: cpuMsPerSubmit,
    simulatorCpuPercent: cpuPercent(simulatorBefore, simulatorAfter),
    price,
    me,
    books,
    checks: checks.map(([label, ok, detail]) => ({ label, ok, detail })),
    targets: {
      acceptedPerSecond: { target: TARGET_ACCEPTED_PER_SECOND, met: throughputMet },
      p99Ms: { target: TARGET_P99_MS, met: latencyMet },
      booksExact,
    },
  });
  console.log(`\nwrote ${written}`);
  if (settings.cpuProfile) {
    await gateway.stop(30_000);
    const profile = keepMainThreadProfile(join(dir, 'profiles'), gateway.pid, 'gateway-submit-throughput');
    console.log(`wrote ${profile}; summarise with:\n  npx tsx bench/profile-summary.ts ${profile}`);
  }
  if (!booksExact) process.exitCode = 1;
});
