// The frame every bench runs in: a log stamped with elapsed time, cleanups that run once in reverse
// order (also on Ctrl-C), and a watchdog so an overrunning bench still ends and takes its children along.

export interface BenchRun {
  readonly startedAt: number;
  /** Unix ms after which the bench should wrap up; the watchdog fires 30 s later. */
  readonly deadline: number;
  log(message: string): void;
  /** Runs after the bench body, last registered first. */
  onCleanup(cleanup: () => Promise<void> | void): void;
  /** Process groups the watchdog SIGKILLs if the cleanups never got to run. */
  trackProcessGroup(pid: number): void;
}

export interface BenchOptions {
  /** The whole run, startup to report. */
  maxSeconds: number;
}

export function runBench(options: BenchOptions, body: (run: BenchRun) => Promise<void>): void {
  const startedAt = Date.now();
  const cleanups: (() => Promise<void> | void)[] = [];
  const groups = new Set<number>();
  let cleaning: Promise<void> | undefined;

  const run: BenchRun = {
    startedAt,
    deadline: startedAt + options.maxSeconds * 1000,
    log: (message) => console.error(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`),
    onCleanup: (cleanup) => cleanups.push(cleanup),
    trackProcessGroup: (pid) => groups.add(pid),
  };

  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
        try {
          await cleanup();
        } catch (error) {
          console.error('cleanup failed:', error);
        }
      }
    })());

  const onSignal = () => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const watchdog = setTimeout(() => {
    run.log('watchdog: the run overran; killing its children');
    for (const pid of groups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    process.exit(1);
  }, (options.maxSeconds + 30) * 1000);
  watchdog.unref();

  void body(run)
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanUp();
      clearTimeout(watchdog);
      // Client sockets and pools a bench forgot would otherwise keep the process (and npm run bench) waiting.
      process.exit();
    });
}
