// Whether Kling takes tasks from our account right now. Account-level refusals (balance, arrears,
// abnormal account, permission, bad credentials, IP allow-list) are not the user's failure and last
// until the operator acts: submissions pause for a cool-down, then one submit probes again. Tasks
// wait QUEUED meanwhile; the deadline sweep ends those still waiting as UPSTREAM_UNAVAILABLE.
import type { Logger } from 'pino';
import { computeBackoffMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { KlingApiError } from '../kling/errors.js';

/** Error kinds that describe our account at Kling rather than one request. */
const ACCOUNT_KINDS: ReadonlySet<KlingApiError['kind']> = new Set(['account', 'insufficient_balance', 'permission', 'auth']);

export function isAccountRefusal(error: KlingApiError): boolean {
  return ACCOUNT_KINDS.has(error.kind) && !error.retryable;
}

export interface UpstreamHealthOptions {
  clock: Clock;
  logger: Logger;
  /** First cool-down after a refusal; doubles on each refused probe. @default 30_000 */
  coolDownMs?: number;
  /** @default 600_000 */
  maxCoolDownMs?: number;
  /** Told on every pause and recovery (metrics). */
  onChange?: ((paused: boolean) => void) | undefined;
}

export interface UpstreamPause {
  since: number;
  until: number;
  klingCode: number | undefined;
  reason: string;
}

export function createUpstreamHealth(options: UpstreamHealthOptions) {
  const { clock, logger } = options;
  const coolDownMs = options.coolDownMs ?? 30_000;
  const maxCoolDownMs = options.maxCoolDownMs ?? 600_000;
  let pause: UpstreamPause | undefined;
  let refusals = 0;
  let probeInFlight = false;
  let pauses = 0;

  return {
    /**
     * May a submit go to Kling now? While paused, no; once the cool-down is over, exactly one caller
     * (the probe) gets true until its answer is reported.
     */
    admit(): boolean {
      if (!pause) return true;
      if (clock.now() < pause.until || probeInFlight) return false;
      probeInFlight = true;
      return true;
    },
    /** When a refused task should look again. */
    retryAt(): number {
      return pause ? Math.max(pause.until, clock.now() + 1_000) : clock.now();
    },
    refused(error: KlingApiError): void {
      refusals += 1;
      probeInFlight = false;
      const now = clock.now();
      const wait = computeBackoffMs(refusals - 1, { baseMs: coolDownMs, maxMs: maxCoolDownMs, random: () => 1 });
      const wasPaused = pause !== undefined;
      pause = { since: pause?.since ?? now, until: now + wait, klingCode: error.klingCode, reason: error.message };
      if (!wasPaused) {
        pauses += 1;
        // One error line per pause, not per task: a dry account would otherwise flood the log.
        logger.error(
          { klingCode: error.klingCode, httpStatus: error.httpStatus, requestId: error.requestId, coolDownMs: wait },
          `Kling refuses this account (${error.message}); submissions pause until it is fixed, tasks stay queued`,
        );
        options.onChange?.(true);
      }
    },
    /** Any answer that shows the account works again (a create accepted). */
    accepted(): void {
      probeInFlight = false;
      if (!pause) return;
      logger.info({ pausedMs: clock.now() - pause.since }, 'Kling accepts tasks from this account again; submissions resume');
      pause = undefined;
      refusals = 0;
      options.onChange?.(false);
    },
    /** The probe ended without a verdict (network trouble): the next caller may probe. */
    inconclusive(): void {
      probeInFlight = false;
    },
    get paused(): UpstreamPause | undefined {
      return pause;
    },
    get pauseCount(): number {
      return pauses;
    },
    /** For /readyz: throws while Kling refuses the account. */
    check(): Promise<void> {
      return pause ? Promise.reject(new Error('Kling refuses this account')) : Promise.resolve();
    },
  };
}

export type UpstreamHealth = ReturnType<typeof createUpstreamHealth>;
