// A token bucket for upstream requests: at most `perSecond` on average, bursts up to `burst`.
// Callers wait their turn in order; a pause (after Kling said "slow down") holds everyone back.
import type { Clock } from '../clock.js';

export interface RateBudgetOptions {
  clock: Clock;
  /** Requests per second, on average. */
  perSecond: number;
  /** Requests that may go at once after a quiet spell. @default perSecond */
  burst?: number;
}

export function createRateBudget({ clock, perSecond, burst = perSecond }: RateBudgetOptions) {
  const intervalMs = 1000 / perSecond;
  let tokens = burst;
  let refilledAt = clock.now();
  let pausedUntil = 0;
  let queue: Promise<void> = Promise.resolve();

  const refill = (now: number) => {
    tokens = Math.min(burst, tokens + (now - refilledAt) / intervalMs);
    refilledAt = now;
  };

  /** How long until one token is free, taking it when it is free now. */
  const tryTake = (now: number): number => {
    if (now < pausedUntil) return pausedUntil - now;
    refill(now);
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - tokens) * intervalMs);
  };

  return {
    /** Resolves when this caller may send one request. */
    take(signal?: AbortSignal): Promise<void> {
      // Chained so waiters are served first come, first served.
      const turn = queue.then(async () => {
        for (let wait = tryTake(clock.now()); wait > 0; wait = tryTake(clock.now())) {
          await clock.sleep(wait, signal);
        }
      });
      queue = turn.catch(() => undefined);
      return turn;
    },
    /** Holds every request back for `ms`, e.g. after a 429 or 5xx from Kling. */
    pause(ms: number) {
      pausedUntil = Math.max(pausedUntil, clock.now() + ms);
    },
    get pausedUntil() {
      return pausedUntil;
    },
  };
}

export type RateBudget = ReturnType<typeof createRateBudget>;
