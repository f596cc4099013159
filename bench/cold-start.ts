// Cold start: from spawning the gateway to its first `GET /readyz` answered 200, on a fresh database and
// with nothing configured (built-in simulator, demo key), as after `npm ci && npm start`. Each start is
// a new process; the figure is the median of BENCH_RUNS. Target: `npm start` median < 2 s.
//
//   npx tsx bench/cold-start.ts                 5 x `npm start`, 5 x `node --import tsx src/main.ts`,
//                                               then 1 x the latter with an empty tsx cache
//   BENCH_RUNS=3 npx tsx bench/cold-start.ts
//
// The `npm start` runs are the target's figure, whatever the script does (today scripts/start.mjs:
// an esbuild bundle of src/, run in the same process). The tsx runs are the development path. tsx
// keeps its transform cache under the temp directory, so "empty tsx cache" gives the start an empty
// TMPDIR: the first tsx start after an install. Everything listens on 127.0.0.1.
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBench, type BenchRun } from './lib/bench-run.js';
import { findFreePort, spawnGroup } from './lib/child-processes.js';
import { envNumber, formatMs, machine, median, printTable, verdict, writeResult } from './lib/report.js';

const settings = {
  runs: Math.round(envNumber('BENCH_RUNS', 5)),
  /** One start that takes longer than this counts as failed. */
  startTimeoutSeconds: envNumber('BENCH_START_TIMEOUT_SECONDS', 30),
  /** Between two probes of /readyz; the resolution of every figure. */
  probeIntervalMs: envNumber('BENCH_PROBE_INTERVAL_MS', 5),
  maxSeconds: envNumber('BENCH_MAX_SECONDS', 240),
};
const TARGET_MS = 2_000;

type Mode = 'npm start' | 'node --import tsx src/main.ts' | 'tsx, empty tsx cache';

const COMMANDS: Record<Mode, { command: string; args: string[] }> = {
  'npm start': { command: 'npm', args: ['start', '--silent'] },
  'node --import tsx src/main.ts': { command: process.execPath, args: ['--import', 'tsx', 'src/main.ts'] },
  'tsx, empty tsx cache': { command: process.execPath, args: ['--import', 'tsx', 'src/main.ts'] },
};

interface Start {
  mode: Mode;
  run: number;
  /** Spawn to the first 200 from /readyz. */
  readyzMs: number;
  /** Spawn to the "Gateway ready at" line on stdout. */
  logLineMs: number;
}

function readyzAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.once('error', () => resolve(false));
  });
}

async function startOnce(run: BenchRun, mode: Mode, index: number): Promise<Start> {
  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-cold-'));
  const port = await findFreePort();
  const emptyCache = mode === 'tsx, empty tsx cache';
  const { command, args } = COMMANDS[mode];
  try {
    const started = performance.now();
    const group = spawnGroup(run, {
      command,
      args,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: join(dir, 'gateway.db'),
        ...(emptyCache ? { TMPDIR: dir } : {}),
      },
      label: 'gateway',
    });
    let logLineMs = Number.NaN;
    group.child.stdout?.on('data', () => {
      if (Number.isNaN(logLineMs) && group.output().includes('Gateway ready at')) logLineMs = performance.now() - started;
    });
    const deadline = started + settings.startTimeoutSeconds * 1000;
    let readyzMs = Number.NaN;
    while (performance.now() < deadline && group.child.exitCode === null) {
      if (await readyzAnswers(port)) {
        readyzMs = performance.now() - started;
        break;
      }
      await sleep(settings.probeIntervalMs);
    }
    await group.stop();
    if (Number.isNaN(readyzMs)) throw new Error(`${mode} #${index}: no /readyz 200 within ${settings.startTimeoutSeconds} s:\n${group.output()}`);
    return { mode, run: index, readyzMs, logLineMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench({ maxSeconds: settings.maxSeconds }, async (run) => {
  const starts: Start[] = [];
  // Alternating, so a busy moment on the shared machine lands on both kinds of start.
  for (let index = 1; index <= settings.runs; index++) {
    for (const mode of ['npm start', 'node --import tsx src/main.ts'] as const) {
      const start = await startOnce(run, mode, index);
      starts.push(start);
      run.log(`${mode} #${index}: /readyz after ${formatMs(start.readyzMs)}`);
    }
  }
  const tsxEmptyCache = await startOnce(run, 'tsx, empty tsx cache', 1);
  starts.push(tsxEmptyCache);
  run.log(`tsx with an empty tsx cache: /readyz after ${formatMs(tsxEmptyCache.readyzMs)}`);

  const of = (mode: Mode) => starts.filter((start) => start.mode === mode);
  const npmMedian = median(of('npm start').map((start) => start.readyzMs));
  const met = npmMedian < TARGET_MS;
  const rows: string[][] = [['start', 'to /readyz 200', '"Gateway ready" line', 'target']];
  for (const start of starts) rows.push([`${start.mode} #${start.run}`, formatMs(start.readyzMs), formatMs(start.logLineMs), '']);
  for (const mode of ['npm start', 'node --import tsx src/main.ts'] as const) {
    rows.push([
      `median, ${mode} (${of(mode).length} runs)`,
      formatMs(median(of(mode).map((start) => start.readyzMs))),
      formatMs(median(of(mode).map((start) => start.logLineMs))),
      mode === 'npm start' ? `< 2 s ${verdict(met)}` : '',
    ]);
  }
  printTable(`cold start: spawn -> first GET /readyz 200, fresh database, nothing configured`, rows);

  const written = writeResult('cold-start', {
    at: new Date(run.startedAt).toISOString(),
    settings,
    machine: machine(),
    starts,
    medianMs: {
      npmStart: npmMedian,
      nodeImportTsx: median(of('node --import tsx src/main.ts').map((start) => start.readyzMs)),
    },
    tsxEmptyCacheMs: tsxEmptyCache.readyzMs,
    target: { ms: TARGET_MS, met },
  });
  console.log(`\nwrote ${written}`);
});
