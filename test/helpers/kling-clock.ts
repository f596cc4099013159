// Time as the simulator sees it, under the test's control: stopped, it keeps every simulated task
// where it is (status, callbacks) however long the machine takes; moved forward, it brings the next
// stage at once. The gateway keeps real time, so it polls and times out as it would in production.
import { systemClock, type Clock } from '../../src/clock.js';

export interface KlingClock extends Clock {
  /** Stops the clock; `now()` stays where it is until `resume()`. */
  pause(): void;
  /** Runs on from where it was stopped, with no jump. */
  resume(): void;
  /** Moves the clock forward by `ms`, stopped or running. */
  advance(ms: number): void;
}

export function createKlingClock(): KlingClock {
  let pausedAt: number | undefined;
  let offset = 0;
  return {
    now: () => (pausedAt ?? Date.now()) - offset,
    // Sleepers (the callback scheduler) wake on real time and then look at now() again.
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    pause() {
      pausedAt ??= Date.now();
    },
    resume() {
      if (pausedAt === undefined) return;
      offset += Date.now() - pausedAt;
      pausedAt = undefined;
    },
    advance(ms) {
      offset -= ms;
    },
  };
}

/**
 * Simulator options for a clock that may fall behind the gateway's by the time it was paused: JWTs
 * are checked against the simulator's clock, and the gateway back-dates `nbf` by only 5 s.
 */
export function simulatorClockOptions(clock: KlingClock) {
  return { clock, clockToleranceSeconds: 600 };
}
