// When to look at a task at Kling again: soon after submit, then backing off toward a ceiling.

export interface CheckScheduleOptions {
  /** Delay of the first check after Kling accepted the task. */
  firstDelayMs: number;
  /** Longest time between two checks. */
  maxIntervalMs: number;
  /** Uniform source in [0, 1) that spreads checks so a burst of submits does not poll in lockstep. */
  random?: () => number;
}

/** Growth per check; 1.5 reaches a 15 s ceiling from 2 s in five checks. */
const GROWTH = 1.5;
/** Checks are spread over ±10 % of their delay. */
const SPREAD = 0.1;

export function nextCheckDelayMs(checksSoFar: number, { firstDelayMs, maxIntervalMs, random = Math.random }: CheckScheduleOptions): number {
  const base = Math.min(maxIntervalMs, firstDelayMs * GROWTH ** Math.max(0, checksSoFar));
  return Math.round(base * (1 - SPREAD + 2 * SPREAD * random()));
}
