// The background loop the poller and the webhook sender share: claim a batch of due rows (leased in
// the database), work through it with bounded concurrency, sleep until the next row comes due or
// someone calls wake(), and stop cleanly.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

export interface WorkLoopOptions<Row> {
  /** For log lines. */
  name: string;
  clock: Clock;
  logger: Logger;
  /** Rows handled at once. */
  concurrency: number;
  /** Longest sleep between two looks at the database. */
  idleMs: number;
  /** Claims (leases) up to `limit` due rows. */
  claim(limit: number): Promise<Row[]>;
  /** When the next row comes due, or null when none is waiting. */
  nextDueAt(): Promise<number | null>;
  /** Handles one row; `signal` aborts when the loop stops. Errors are logged; the lease brings the row back. */
  handle(row: Row, signal: AbortSignal): Promise<void>;
  /** Runs at most once per idleMs before a claim (e.g. the deadline sweep). */
  housekeeping?: (() => Promise<void>) | undefined;
}

export function createWorkLoop<Row>(options: WorkLoopOptions<Row>) {
  const { clock, logger, idleMs } = options;
  let running = false;
  let loop: Promise<void> | undefined;
  let stopController = new AbortController();
  let wakeController = new AbortController();

  const handleSafely = async (row: Row) => {
    try {
      await options.handle(row, stopController.signal);
    } catch (error) {
      if (stopController.signal.aborted) return;
      logger.error({ err: error }, `${options.name} could not handle a row`);
    }
  };

  const runBatch = async (): Promise<number> => {
    const batch = await options.claim(options.concurrency * 4);
    let next = 0;
    const worker = async () => {
      while (next < batch.length && !stopController.signal.aborted) {
        const row = batch[next++];
        if (row !== undefined) await handleSafely(row);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, batch.length) }, worker));
    return batch.length;
  };

  const sleepUntilDueOrWoken = async () => {
    const nextDue = await options.nextDueAt();
    const wait = Math.max(0, Math.min(idleMs, (nextDue ?? Number.POSITIVE_INFINITY) - clock.now()));
    if (wait === 0) return;
    await clock.sleep(wait, AbortSignal.any([stopController.signal, wakeController.signal])).catch(() => undefined);
  };

  const run = async () => {
    let lastHousekeeping = Number.NEGATIVE_INFINITY;
    while (running) {
      try {
        if (options.housekeeping && clock.now() - lastHousekeeping >= idleMs) {
          lastHousekeeping = clock.now();
          await options.housekeeping();
        }
        const handled = await runBatch();
        if (handled === 0) await sleepUntilDueOrWoken();
      } catch (error) {
        if (stopController.signal.aborted) break;
        logger.error({ err: error }, `${options.name} loop failed; retrying`);
        await clock.sleep(idleMs, stopController.signal).catch(() => undefined);
      }
      if (wakeController.signal.aborted) wakeController = new AbortController();
    }
  };

  return {
    /** Aborts when the loop stops; pass it to work that should not outlive the loop. */
    get signal() {
      return stopController.signal;
    },
    start() {
      if (running) return;
      running = true;
      stopController = new AbortController();
      // Every call and wait in flight listens on this one signal; there are many by design.
      setMaxListeners(0, stopController.signal);
      loop = run();
    },
    /**
     * One pass by hand: housekeeping, then one claimed batch; resolves with the rows handled. For a
     * loop that is not started (tests drive time and steps themselves, tools drain work once).
     */
    async runOnce(): Promise<number> {
      if (running) throw new Error(`${options.name} is running; runOnce is for a loop that is not started`);
      stopController = new AbortController();
      setMaxListeners(0, stopController.signal);
      await options.housekeeping?.();
      return runBatch();
    },
    /** Looks for due work now instead of at the next tick. */
    wake() {
      wakeController.abort();
    },
    /** Stops claiming work and waits for the work in flight; idempotent. */
    async stop() {
      if (running) {
        running = false;
        stopController.abort();
      }
      await loop;
    },
  };
}

export type WorkLoop = ReturnType<typeof createWorkLoop>;
