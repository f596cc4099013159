// Time that moves only when a test (or a sleeper in the gateway) says so. The gateway gets a clock
// whose sleep moves virtual time forward and resolves on the next macrotask, so a retry pause, a
// rate-budget wait or a poller backoff costs no real time. The simulator gets the same now() with a
// real sleep (its callback scheduler loops on sleep), so Kling's task ages and JWT checks follow the
// same virtual time the gateway signs with.
import { systemClock, type Clock } from '../../src/clock.js';

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

/** mulberry32: a seeded stand-in for Math.random while a model run replays a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
