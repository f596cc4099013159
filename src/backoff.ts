// Retry delays shared by the Kling client and the poller. Pure: randomness and time come in as arguments.

export interface BackoffOptions {
  /**
   * Upper bound of the first delay (attempt 0), in milliseconds; each further attempt doubles it.
   */
  baseMs: number;
  /** No delay exceeds this, in milliseconds, however many attempts have failed. */
  maxMs: number;
  /**
   * Uniform source in [0, 1). Tests pass a constant to make the schedule exact.
   * @default Math.random
   */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry), in whole milliseconds.
 *
 * "Full jitter": uniform between 0 and min(maxMs, baseMs * 2^attempt). Spreading retries over the whole window
 * rather than around its centre is what stops many clients that failed together (one Kling outage, one
 * 1302 burst) from coming back together; it gives the least total contention of the common schemes.
 */
export function computeBackoffMs(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs, random = Math.random } = options;
  if (!(baseMs >= 0) || !(maxMs >= 0)) {
    throw new RangeError(`backoff needs non-negative baseMs and maxMs, got ${baseMs} and ${maxMs}`);
  }
  const exponent = Math.max(0, Math.floor(attempt));
  // 2 ** 1100 is Infinity, which Math.min turns back into maxMs, so huge attempt counts are safe.
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  // Clamp in case an injected source returns exactly 1 or drifts outside [0, 1).
  const unit = Math.min(Math.max(random(), 0), 1);
  return Math.floor(unit * ceiling);
}

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP-date) into milliseconds from `nowMs`.
 * Returns `undefined` when the header is absent or unreadable, and 0 for a date in the past.
 * Kling does not document the header; proxies in front of it may still send one.
 */
export function retryAfterMs(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
