// Real time that a test can move forward, and whose sleepers it can see: given to a rate budget, the
// test learns that a caller is waiting its turn (nextSleep) and lets it through (advance) without
// sleeping for real.
import type { Clock } from '../../src/clock.js';

export interface SteeredClock extends Clock {
  /** Moves time forward by `ms`; sleepers whose time has come wake at once. */
  advance(ms: number): void;
  /** Resolves with the length of the next sleep someone starts. */
  nextSleep(): Promise<number>;
}

export function createSteeredClock(): SteeredClock {
  let offset = 0;
  const now = () => Date.now() + offset;
  const sleepers = new Set<{ wakeAt: number; wake: () => void }>();
  let watchers: ((ms: number) => void)[] = [];

  return {
    now,
    sleep(ms, signal) {
      for (const watcher of watchers) watcher(ms);
      watchers = [];
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          finish();
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        const sleeper = {
          wakeAt: now() + ms,
          wake: () => {
            finish();
            resolve();
          },
        };
        const timer = setTimeout(sleeper.wake, ms);
        timer.unref();
        const finish = () => {
          clearTimeout(timer);
          sleepers.delete(sleeper);
          signal?.removeEventListener('abort', onAbort);
        };
        if (signal?.aborted === true) {
          onAbort();
          return;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        sleepers.add(sleeper);
      });
    },
    advance(ms) {
      offset += Math.max(0, ms);
      for (const sleeper of [...sleepers]) if (now() >= sleeper.wakeAt) sleeper.wake();
    },
    nextSleep() {
      return new Promise((resolve) => watchers.push(resolve));
    },
  };
}
