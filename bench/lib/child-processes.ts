// Servers under test run as child processes of the bench, each in its own process group, so the load
// generator never shares an event loop with them and a stop (or the watchdog) takes the whole group.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BenchRun } from './bench-run.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Output kept per child for error messages; a chatty child must not grow the bench's heap. */
const OUTPUT_LIMIT = 64 * 1024;

export interface GroupOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Prefix of the child's stderr lines echoed to the bench's stderr. */
  label: string;
}

export interface ChildGroup {
  child: ChildProcess;
  /** The spawned process's pid, which is also its process group's id. */
  pid: number;
  exited: Promise<void>;
  /** The last 64 KB of stdout and stderr. */
  output(): string;
  /** SIGTERM to the group (graceful: profiles get written), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

function signalGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Spawns `command` as the leader of a new process group; the bench's cleanups stop the group. */
export function spawnGroup(run: BenchRun, options: GroupOptions): ChildGroup {
  const child = spawn(options.command, options.args, {
    cwd: repoRoot,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${options.command}`);
  run.trackProcessGroup(pid);

  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-OUTPUT_LIMIT);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-OUTPUT_LIMIT);
    process.stderr.write(`[${options.label}] ${chunk.toString()}`);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(pid, 'SIGTERM');
      const forced = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(forced);
    })());
  run.onCleanup(() => stop());
  return { child, pid, exited, output: () => out, stop };
}

export interface NodeChildOptions {
  /** Path from the repository root, run as `node [nodeArgs] --import tsx <script>`. */
  script: string;
  env: Record<string, string>;
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Matched against the output; the child counts as started once it matches. Group 1 is usually the URL. */
  readyPattern: RegExp;
  label: string;
}

export interface NodeChild extends ChildGroup {
  ready: RegExpExecArray;
}

/** Runs a TypeScript entry point with plain node (no tsx wrapper process), so `pid` is the server itself. */
export async function startNodeChild(run: BenchRun, options: NodeChildOptions): Promise<NodeChild> {
  const group = spawnGroup(run, {
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), '--import', 'tsx', options.script],
    env: options.env,
    label: options.label,
  });
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    const onData = () => {
      const match = options.readyPattern.exec(group.output());
      if (!match) return;
      group.child.stdout?.off('data', onData);
      resolve(match);
    };
    group.child.stdout?.on('data', onData);
    group.child.once('error', reject);
    group.child.once('exit', (code, signal) => {
      reject(new Error(`${options.label} exited (${String(code ?? signal)}) before it was ready:\n${group.output()}`));
    });
  });
  return { ...group, ready };
}

/** The environment of a gateway child: loopback, an own database file, no demo key, quiet logs. */
export function gatewayEnv(databaseFile: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseFile,
    DEMO_KEY: 'false',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

export async function startGateway(
  run: BenchRun,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<NodeChild & { url: string }> {
  const started = await startNodeChild(run, {
    script: 'src/main.ts',
    env,
    nodeArgs,
    readyPattern: /Gateway ready at (http:\S+)/,
    label: 'gateway',
  });
  return { ...started, url: started.ready[1] ?? '' };
}

const clockTicksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcessSample {
  at: number;
  /** user + system CPU since the process started, in seconds. */
  cpuSeconds: number;
  rssBytes: number;
}

/** CPU from /proc/<pid>/stat (utime, stime), RSS from /proc/<pid>/status (VmRSS, kB). */
export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return { at: Date.now(), cpuSeconds: ticks / clockTicksPerSecond, rssBytes: rssKb * 1024 };
}

/** Share of one core the process used between two samples, in percent. */
export function cpuPercent(before: ProcessSample, after: ProcessSample): number {
  return ((after.cpuSeconds - before.cpuSeconds) / ((after.at - before.at) / 1000)) * 100;
}

/** A port that was free a moment ago, for a child that must be reachable before it can say where it listens. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
