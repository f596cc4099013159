// Time that moves only when a test (or a sleeper in the gateway) says so. The gateway gets a clock
// whose sleep moves virtual time forward and resolves on the next macrotask, so a retry pause, a
// rate-budget wait or a poller backoff costs no real time. The simulator gets the same now() with a
// real sleep (its callback scheduler loops on sleep), so Kling's task ages and JWT checks follow the
// same virtual time the gateway signs with.
import { systemClock, type Clock } from '../../src/clock.js';
import { createSeededRandom } from '../../src/kling/simulator/seeded-random.js';

export interface VirtualTime {
  now(): number;
  /** Moves virtual time forward by `ms` (never backward). */
  advance(ms: number): void;
  /** For the gateway: sleeping moves time forward; concurrent sleepers overlap rather than add up. */
  readonly gatewayClock: Clock;
  /** For the simulator: the same now(), a real sleep. */
  readonly simulatorClock: Clock;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

export function createVirtualTime(start = Date.now()): VirtualTime {
  let now = start;
  const gatewayClock: Clock = {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(abortReason(signal));
          return;
        }
        // Wakes at the time it asked for: two sleepers side by side move time as far as the longer one.
        const wakeAt = now + Math.max(0, ms);
        setImmediate(() => {
          if (signal?.aborted === true) {
            reject(abortReason(signal));
            return;
          }
          now = Math.max(now, wakeAt);
          resolve();
        });
      }),
  };
  return {
    now: () => now,
    advance(ms: number) {
      now += Math.max(0, ms);
    },
    gatewayClock,
    simulatorClock: { now: () => now, sleep: (ms, signal) => systemClock.sleep(ms, signal) },
  };
}

/** A seeded stand-in for Math.random while a model run replays a seed (the simulator's own generator). */
export const seededRandom = (seed: number): (() => number) => createSeededRandom(seed);
