// Query throughput: an authenticated `videoTask(id)` on the gateway against a bare graphql-yoga answering
// `{ __typename }` (bench/fixtures/bare-yoga.ts). Both servers are child processes; autocannon drives
// them from this process with the same connection count and duration, alternating round by round so
// a noisy neighbour on the shared machine hits both. Target: gateway >= 0.8x the bare server's req/s.
//
//   npx tsx bench/query-throughput.ts                         50 connections, 2 rounds of 10 s per server
//   BENCH_DURATION_SECONDS=5 BENCH_ROUNDS=1 npx tsx bench/query-throughput.ts
//   BENCH_CPU_PROFILE=1 npx tsx bench/query-throughput.ts     both servers run under --cpu-prof (slower: the
//                                                              req/s are then not the figures); summarise with
//   npx tsx bench/profile-summary.ts bench/results/profiles/gateway-query-throughput.cpuprofile
//   npx tsx bench/profile-summary.ts bench/results/profiles/bare-yoga-query-throughput.cpuprofile
//
// Everything listens on 127.0.0.1; the run stops itself after BENCH_MAX_SECONDS and kills its children.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY } from '../src/kling/simulator/simulator.js';
import { runBench } from './lib/bench-run.js';
import { cpuPercent, gatewayEnv, sampleProcess, startGateway, startNodeChild } from './lib/child-processes.js';
import { cpuProfileArgs, keepMainThreadProfile } from './lib/cpu-profile.js';
import { createApiKey, graphql, submitTask } from './lib/gateway-api.js';
import {
  envFlag,
  envNumber,
  formatMs,
  formatRatio,
  machine,
  printTable,
  verdict,
  writeResult,
} from './lib/report.js';

const settings = {
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 50)),
  durationSeconds: envNumber('BENCH_DURATION_SECONDS', 10),
  /** Per server, once, before the first round: lets V8 optimise the hot paths before anything counts. */
  warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 3),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 2)),
  cpuProfile: envFlag('BENCH_CPU_PROFILE'),
  maxSeconds: envNumber('BENCH_MAX_SECONDS', 150),
};
const TARGET_RATIO = 0.8;
const PROFILE_NAMES = { gateway: 'gateway-query-throughput', bare: 'bare-yoga-query-throughput' };

const VIDEO_TASK = /* GraphQL */ `
  query VideoTask($id: ID!) {
    videoTask(id: $id) { id status prompt model durationSeconds credits createdAt }
  }
`;
const TYPENAME = /* GraphQL */ `{ __typename }`;

interface Target {
  name: 'bare yoga' | 'gateway';
  url: string;
  pid: number;
  headers: Record<string, string>;
  body: string;
  /** A substring every correct answer contains; anything else counts as a wrong answer. */
  expect: string;
}

interface Measured {
  round: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  wrongAnswers: number;
  serverCpuPercent: number;
  serverRssMb: number;
}

async function load(target: Target, durationSeconds: number, round: number): Promise<Measured> {
  let wrongAnswers = 0;
  const before = sampleProcess(target.pid);
  const result = await autocannon({
    url: target.url,
    connections: settings.connections,
    duration: durationSeconds,
    requests: [
      {
        method: 'POST',
        headers: target.headers,
        body: target.body,
        onResponse: (status, body) => {
          if (status !== 200 || !body.includes(target.expect)) wrongAnswers += 1;
        },
      },
    ],
  });
  const after = sampleProcess(target.pid);
  return {
    round,
    seconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    wrongAnswers,
    serverCpuPercent: cpuPercent(before, after),
    serverRssMb: after.rssBytes / 2 ** 20,
  };
}

runBench({ maxSeconds: settings.maxSeconds }, async (run) => {
  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-bench-'));
  run.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  // Only here to accept the one task the query reads; idle while the load runs.
  const simulator = createKlingSimulator({ host: '127.0.0.1', port: 0, taskSeconds: 3600 });
  run.onCleanup(() => simulator.stop());
  const simulatorUrl = await simulator.start();

  const profileDirs = { gateway: join(dir, 'profiles', 'gateway'), bare: join(dir, 'profiles', 'bare') };
  const adminToken = randomBytes(24).toString('base64url');
  const gateway = await startGateway(
    run,
    gatewayEnv(join(dir, 'gateway.db'), {
      KLING_BASE_URL: simulatorUrl,
      KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
      KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
      ADMIN_TOKEN: adminToken,
      // The per-key operation budget (600/min by default) would answer almost every request RATE_LIMITED.
      RATE_LIMIT_POINTS: '1000000000',
    }),
    // The profiles are written when the gateway exits, which stop() lets it do (SIGTERM, graceful).
    settings.cpuProfile ? cpuProfileArgs(profileDirs.gateway) : [],
  );
  const bare = await startNodeChild(run, {
    script: 'bench/fixtures/bare-yoga.ts',
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0' },
    nodeArgs: settings.cpuProfile ? cpuProfileArgs(profileDirs.bare) : [],
    readyPattern: /Bare yoga ready at (http:\S+)/,
    label: 'bare-yoga',
  });
  run.log(`gateway ${gateway.url} (pid ${gateway.pid}), bare yoga ${bare.ready[1] ?? ''} (pid ${bare.pid})`);

  const { key } = await createApiKey(gateway.url, adminToken, 'bench', 1_000);
  const submitted = await submitTask(gateway.url, key, 'Bench clip for queries');
  if (!('id' in submitted)) throw new Error(`could not create the task to query: ${submitted.refused}`);
  const taskId = submitted.id;
  await graphql(gateway.url, key, VIDEO_TASK, { id: taskId });

  const json = { 'content-type': 'application/json', accept: 'application/json' };
  const targets: Target[] = [
    {
      name: 'bare yoga',
      url: bare.ready[1] ?? '',
      pid: bare.pid,
      headers: json,
      body: JSON.stringify({ query: TYPENAME }),
      expect: '"__typename":"Query"',
    },
    {
      name: 'gateway',
      url: gateway.url,
      pid: gateway.pid,
      headers: { ...json, authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: VIDEO_TASK, variables: { id: taskId } }),
      expect: `"id":"${taskId}"`,
    },
  ];

  for (const target of targets) {
    run.log(`warming up ${target.name} for ${settings.warmupSeconds} s`);
    await load(target, settings.warmupSeconds, 0);
  }
  const measured = new Map<Target['name'], Measured[]>(targets.map((target) => [target.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of targets) {
      const m = await load(target, settings.durationSeconds, round);
      measured.get(target.name)?.push(m);
      run.log(`round ${round} ${target.name}: ${m.requestsPerSecond.toFixed(0)} req/s, p99 ${m.latencyMs.p99} ms`);
    }
  }

  const totals = (name: Target['name']) => {
    const runs = measured.get(name) ?? [];
    const requests = runs.reduce((sum, m) => sum + m.requests, 0);
    const seconds = runs.reduce((sum, m) => sum + m.seconds, 0);
    return {
      requests,
      seconds,
      requestsPerSecond: requests / seconds,
      /** The worst round's p99: autocannon's histograms are not merged across rounds. */
      worstP99Ms: Math.max(...runs.map((m) => m.latencyMs.p99)),
      failures: runs.reduce((sum, m) => sum + m.non2xx + m.errors + m.wrongAnswers, 0),
    };
  };
  const bareTotals = totals('bare yoga');
  const gatewayTotals = totals('gateway');
  const ratio = gatewayTotals.requestsPerSecond / bareTotals.requestsPerSecond;
  const met = ratio >= TARGET_RATIO && gatewayTotals.failures === 0;

  // CPU per request is the steadier figure on a shared machine: a neighbour slows both servers' req/s,
  // much less what each request costs.
  const rows: string[][] = [['server / round', 'req/s', 'p50', 'p90', 'p99', 'max', 'failed', 'server CPU', 'CPU/request', 'RSS']];
  for (const target of targets) {
    for (const m of measured.get(target.name) ?? []) {
      rows.push([
        `${target.name} #${m.round}`,
        m.requestsPerSecond.toFixed(0),
        formatMs(m.latencyMs.p50),
        formatMs(m.latencyMs.p90),
        formatMs(m.latencyMs.p99),
        formatMs(m.latencyMs.max),
        String(m.non2xx + m.errors + m.wrongAnswers),
        `${m.serverCpuPercent.toFixed(0)} %`,
        `${((m.serverCpuPercent * 10_000) / m.requestsPerSecond).toFixed(0)} µs`,
        `${m.serverRssMb.toFixed(0)} MB`,
      ]);
    }
  }
  rows.push(['bare yoga, all rounds', bareTotals.requestsPerSecond.toFixed(0), '', '', formatMs(bareTotals.worstP99Ms), '', String(bareTotals.failures), '', '', '']);
  rows.push(['gateway, all rounds', gatewayTotals.requestsPerSecond.toFixed(0), '', '', formatMs(gatewayTotals.worstP99Ms), '', String(gatewayTotals.failures), '', '', '']);
  rows.push([
    `gateway / bare req/s (target >= ${TARGET_RATIO})`,
    formatRatio(ratio),
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    settings.cpuProfile ? 'profiled' : verdict(met),
  ]);
  printTable(
    `query throughput: ${settings.connections} connections, ${settings.rounds} x ${settings.durationSeconds} s per server` +
      (settings.cpuProfile ? ' (both under --cpu-prof: req/s are not the figures)' : ''),
    rows,
  );

  const result = {
    at: new Date(run.startedAt).toISOString(),
    settings,
    machine: machine(),
    queries: { gateway: VIDEO_TASK.trim(), bare: TYPENAME },
    rounds: Object.fromEntries(measured),
    bare: bareTotals,
    gateway: gatewayTotals,
    ratio,
    target: { ratio: TARGET_RATIO, met: settings.cpuProfile ? null : met },
    profiles: settings.cpuProfile
      ? { gateway: `bench/results/profiles/${PROFILE_NAMES.gateway}.cpuprofile`, bare: `bench/results/profiles/${PROFILE_NAMES.bare}.cpuprofile` }
      : null,
  };
  const written = writeResult(settings.cpuProfile ? 'query-throughput-profiled' : 'query-throughput', result);
  console.log(`\nwrote ${written}`);

  if (settings.cpuProfile) {
    await Promise.all([gateway.stop(30_000), bare.stop(30_000)]);
    for (const [which, child] of [['gateway', gateway], ['bare', bare]] as const) {
      const profile = keepMainThreadProfile(profileDirs[which], child.pid, PROFILE_NAMES[which]);
      console.log(`wrote ${profile}; summarise with:\n  npx tsx bench/profile-summary.ts ${profile}`);
    }
  }
  if (gatewayTotals.failures > 0 || bareTotals.failures > 0) process.exitCode = 1;
});
