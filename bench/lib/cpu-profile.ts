// `node --cpu-prof` for a server child. tsx's loader runs in a worker thread that gets profiled too,
// into a file of its own; only the main thread's profile is kept, under bench/results/profiles/.
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { resultsDir } from './report.js';

/** Node flags that write the child's profiles into `dir` when it exits (SIGTERM is graceful enough). */
export function cpuProfileArgs(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Moves the main thread's profile of `pid` to bench/results/profiles/<name>.cpuprofile; returns that path. */
export function keepMainThreadProfile(dir: string, pid: number, name: string): string {
  // Default names are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main thread is 0.
  const file = readdirSync(dir).find((entry) => entry.includes(`.${pid}.0.`));
  if (!file) throw new Error(`no main-thread profile of pid ${pid} in ${dir}: ${readdirSync(dir).join(', ')}`);
  mkdirSync(join(resultsDir, 'profiles'), { recursive: true });
  renameSync(join(dir, file), join(resultsDir, 'profiles', `${name}.cpuprofile`));
  return `bench/results/profiles/${name}.cpuprofile`;
}
