// One loop per process that drives every open task to a terminal state. What to look at comes from
// the database (claimed with a lease), so a restarted process resumes where the last one stopped.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { computeBackoffMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import { createWorkLoop } from '../work-loop.js';
import type { TaskRow } from '../db/schema.js';
import type { ScheduleExtras, Store } from '../db/store.js';
import { isKlingApiError } from '../kling/errors.js';
import type { KlingClient } from '../kling/types.js';
import { untracedJobSpans, type JobSpans } from '../telemetry/job-spans.js';
import { countNotFound, type AbsenceRule } from './absence.js';
import { nextCheckDelayMs } from './check-schedule.js';
import { eventFor, klingEndpointOf } from './kling-mapping.js';
import type { RateBudget } from './rate-budget.js';
import type { Submitter } from './submitter.js';
import type { TaskTransitions } from './transitions.js';
import type { UpstreamHealth } from './upstream-health.js';

export interface PollerOptions {
  store: Store;
  kling: KlingClient;
  transitions: TaskTransitions;
  submitter: Submitter;
  health: UpstreamHealth;
  budget: RateBudget;
  /** When Kling's "not found" is believed (see absence.ts). */
  absence: AbsenceRule;
  clock: Clock;
  logger: Logger;
  firstDelayMs: number;
  maxIntervalMs: number;
  /** Upstream calls in flight at once. */
  concurrency: number;
  maxActivePerKey: number;
  /** This instance's name in task leases. */
  owner: string;
  /** How long a reserved submit slot is held while the submit is in flight. */
  submitLeaseMs: number;
  /**
   * How long a claimed task is this poller's before another may take it.
   * @default 30_000
   */
  leaseMs?: number;
  /**
   * Longest sleep between two looks at the database when nothing is due.
   * @default 1_000
   */
  idleMs?: number;
  /**
   * How often a queued task re-checks for a free slot; no upstream call is made for it.
   * @default 1_000
   */
  queueRecheckMs?: number;
  /** Each look at a task at Kling is a span of the task's trace. */
  jobSpans?: JobSpans | undefined;
}

const TIMED_OUT_AT_KLING = {
  code: 'TIMEOUT',
  message: 'The video was not ready before the deadline; Kling still had it and bills it, so it is charged.',
  retryable: true,
} as const;

export function createPoller(options: PollerOptions) {
  const { store, kling, transitions, submitter, health, budget, clock, logger } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const idleMs = options.idleMs ?? 1_000;
  const queueRecheckMs = options.queueRecheckMs ?? 1_000;
  const jobSpans = options.jobSpans ?? untracedJobSpans;
  const schedule = { firstDelayMs: options.firstDelayMs, maxIntervalMs: options.maxIntervalMs };

  let upstreamTrouble = 0;
  const stats = { checks: 0, dispatches: 0, transitions: 0, upstreamErrors: 0, timedOut: 0, lost: 0 };

  /** Sets the next check and keeps the task leased to this instance until a lease-length after it. */
  const reschedule = (row: TaskRow, delayMs: number, attempts = row.checkAttempts + 1, also: ScheduleExtras = {}) => {
    const at = clock.now() + delayMs;
    return store.reschedule(row.id, row.status, at, attempts, at + leaseMs, also);
  };

  /** Kling answered "slow down" or failed: everyone waits, the task is looked at again later. */
  const onUpstreamTrouble = async (row: TaskRow, error: unknown) => {
    stats.upstreamErrors += 1;
    upstreamTrouble += 1;
    const pauseMs = computeBackoffMs(upstreamTrouble, { baseMs: 500, maxMs: 30_000 });
    budget.pause(pauseMs);
    logger.warn({ taskId: row.id, err: error, pauseMs }, 'Kling call failed; polling slows down');
    await reschedule(row, Math.max(pauseMs, nextCheckDelayMs(row.checkAttempts, schedule)));
  };

  /** Asks Kling; a failed call slows everyone down and returns undefined. */
  const ask = async <T>(row: TaskRow, call: () => Promise<T>): Promise<{ answer: T } | undefined> => {
    await budget.take(work.signal);
    stats.checks += 1;
    try {
      const answer = await call();
      upstreamTrouble = 0;
      return { answer };
    } catch (error) {
      if (isKlingApiError(error) && !error.retryable && error.kind !== 'protocol') {
        logger.error({ taskId: row.id, err: error }, 'Kling refused a status query');
      }
      // A status we do not know, a 429 or a 5xx never fails the task; the deadline bounds it.
      await onUpstreamTrouble(row, error);
      return undefined;
    }
  };

  /**
   * Kling answered "not found": asked again by our own id, and counted. Only answers spread over the
   * absence window end the task (`onConfirmed`); until then it is looked at again soon.
   */
  const notFound = async (row: TaskRow, onConfirmed: (row: TaskRow) => Promise<unknown>) => {
    const byOurId = await ask(row, () => kling.findTaskByExternalId(klingEndpointOf(row.model), row.id, { signal: work.signal }));
    if (!byOurId) return;
    const now = clock.now();
    if (byOurId.answer) {
      const { event, facts } = eventFor(row, byOurId.answer, now + nextCheckDelayMs(0, schedule));
      if (!(await transitions.fire(row, event, facts))) await reschedule(row, nextCheckDelayMs(0, schedule), 0);
      return;
    }
    const confirmed = await countNotFound(store, row, now, options.absence, leaseMs);
    if (confirmed) await onConfirmed(confirmed);
  };

  const checkAtKling = async (row: TaskRow) => {
    const klingTaskId = row.klingTaskId;
    if (klingTaskId === null) {
      // Only a task submitted by a crashed process can get here: find it by our own id.
      await dispatch(row);
      return;
    }
    await jobSpans(
      'kling.poll',
      row,
      async (span) => {
        const outcome = await poll(row, klingTaskId);
        span?.setAttribute('kling_gateway.poll.outcome', outcome);
        if (outcome === 'upstream_error') span?.setStatus({ code: SpanStatusCode.ERROR, message: 'Kling call failed' });
      },
      SpanKind.CLIENT,
    );
  };

  /** One status query at Kling and what follows from its answer. */
  const poll = async (row: TaskRow, klingTaskId: string): Promise<'upstream_error' | 'not_found' | 'changed' | 'unchanged'> => {
    const found = await ask(row, () => kling.getTask(klingEndpointOf(row.model), klingTaskId, { signal: work.signal }));
    if (!found) return 'upstream_error';
    if (found.answer === null) {
      await notFound(row, async (counted) => {
        stats.lost += 1;
        const lost = await transitions.fire(counted, 'lost', {
          failure: { code: 'UPSTREAM_TASK_LOST', message: 'Kling no longer knows this task.', retryable: true },
        });
        if (lost) logger.warn({ taskId: row.id, klingTaskId, notFound: counted.notFoundCount }, 'Kling lost the task; refunded');
      });
      return 'not_found';
    }
    const now = clock.now();
    const { event, facts } = eventFor(row, found.answer, now + nextCheckDelayMs(0, schedule));
    if (await transitions.fire(row, event, facts)) {
      stats.transitions += 1;
      return 'changed';
    }
    // Found after all: earlier not-found answers no longer count toward its loss.
    const also = row.notFoundCount > 0 ? { notFoundCount: 0, firstNotFoundAt: null } : {};
    await reschedule(row, nextCheckDelayMs(row.checkAttempts + 1, schedule), row.checkAttempts + 1, also);
    return 'unchanged';
  };

  /** Hands a queued task to Kling when its key has a free slot, it is next in line and Kling takes tasks. */
  const dispatch = async (row: TaskRow) => {
    if (row.cancelRequestedAt !== null) {
      await budget.take(work.signal);
      await submitter.settleCancel(row);
      return;
    }
    if (!health.admit()) {
      await reschedule(row, health.retryAt() - clock.now(), row.checkAttempts);
      return;
    }
    const now = clock.now();
    // Known before the reservation marks it: a create may already have reached Kling.
    const maybeSent = row.submitSentAt !== null;
    if (!(await store.reserveSubmitSlot(row, options.maxActivePerKey, now + options.submitLeaseMs, now))) {
      health.inconclusive();
      await reschedule(row, queueRecheckMs, row.checkAttempts);
      return;
    }
    await budget.take(work.signal);
    stats.dispatches += 1;
    await submitter.submit(row, maybeSent);
  };

  /** Ends a task past its deadline. Never refunds one Kling may hold: that is looked up first. */
  const expire = async (row: TaskRow) => {
    if (row.status !== 'QUEUED') {
      if (await transitions.fire(row, 'timedOutAtKling', { failure: TIMED_OUT_AT_KLING })) stats.timedOut += 1;
      return;
    }
    const waitingEvent = row.upstreamRefusal !== null ? 'unavailable' : 'timedOutWaiting';
    const failure =
      waitingEvent === 'unavailable'
        ? { code: 'UPSTREAM_UNAVAILABLE' as const, message: 'Kling was not accepting tasks from this gateway before the deadline.', retryable: true }
        : { code: 'TIMEOUT' as const, message: 'The video was not ready before the deadline.', retryable: true };
    if (row.submitSentAt === null) {
      if (await transitions.fire(row, waitingEvent, { failure })) stats.timedOut += 1;
      return;
    }
    const found = await ask(row, () => kling.findTaskByExternalId(klingEndpointOf(row.model), row.id, { signal: work.signal }));
    if (!found) return;
    if (found.answer) {
      const { event, facts } = eventFor(row, found.answer, clock.now());
      const finished = event === 'succeeded' || event === 'failedAtKling';
      if (await transitions.fire(row, finished ? event : 'timedOutAtKling', finished ? facts : { ...facts, failure: TIMED_OUT_AT_KLING })) {
        stats.timedOut += 1;
      }
      return;
    }
    const confirmed = await countNotFound(store, row, clock.now(), options.absence, leaseMs);
    if (confirmed && (await transitions.fire(confirmed, waitingEvent, { failure, klingDoesNotHaveIt: true }))) stats.timedOut += 1;
  };

  const sweepOverdue = async () => {
    for (const row of await store.overdueTasks(clock.now(), 100)) {
      // One that needs a lookup first is expired when its own check comes due (handle), under its lease.
      if (row.status !== 'QUEUED' || row.submitSentAt === null) await expire(row);
    }
  };

  const handle = async (row: TaskRow) => {
    if (row.deadlineAt <= clock.now()) await expire(row);
    else if (row.status === 'QUEUED') await dispatch(row);
    else await checkAtKling(row);
  };

  const work = createWorkLoop<TaskRow>({
    name: 'poller',
    clock,
    logger,
    concurrency: options.concurrency,
    idleMs,
    claim: (limit) => store.claimDueTasks(clock.now(), limit, leaseMs, options.owner),
    nextDueAt: () => store.nextDueAt(),
    handle,
    housekeeping: sweepOverdue,
  });

  return {
    stats,
    start: () => work.start(),
    /** One sweep and one batch by hand, for a poller that is not started; resolves with the tasks handled. */
    runOnce: () => work.runOnce(),
    /** Looks for due work now instead of at the next tick. */
    wake: () => work.wake(),
    /** Stops claiming work and waits for the calls in flight; idempotent. */
    stop: () => work.stop(),
  };
}

export type Poller = ReturnType<typeof createPoller>;
