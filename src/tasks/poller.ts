// One loop per process that drives every open task to a terminal state. What to look at comes from
// the database (claimed with a lease), so a restarted process resumes where the last one stopped.
import type { Logger } from 'pino';
import { computeBackoffMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import { createWorkLoop } from '../work-loop.js';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { isKlingApiError } from '../kling/errors.js';
import type { KlingClient } from '../kling/types.js';
import { nextCheckDelayMs } from './check-schedule.js';
import { failureColumns, klingEndpointOf, transitionFor } from './kling-mapping.js';
import type { RateBudget } from './rate-budget.js';
import { AT_KLING_STATUSES, OPEN_STATUSES, type TaskStatus } from './status.js';
import type { TaskService } from './task-service.js';

export interface PollerOptions {
  store: Store;
  kling: KlingClient;
  tasks: TaskService;
  budget: RateBudget;
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
}

export function createPoller(options: PollerOptions) {
  const { store, kling, tasks, budget, clock, logger } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const idleMs = options.idleMs ?? 1_000;
  const queueRecheckMs = options.queueRecheckMs ?? 1_000;
  const schedule = { firstDelayMs: options.firstDelayMs, maxIntervalMs: options.maxIntervalMs };

  let upstreamTrouble = 0;
  const stats = { checks: 0, dispatches: 0, transitions: 0, upstreamErrors: 0, timedOut: 0, lost: 0 };

  /** Sets the next check and keeps the task leased to this instance until a lease-length after it. */
  const reschedule = (row: TaskRow, delayMs: number, attempts = row.checkAttempts + 1) => {
    const at = clock.now() + delayMs;
    return store.reschedule(row.id, row.status as TaskStatus, at, attempts, at + leaseMs);
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

  const checkAtKling = async (row: TaskRow) => {
    const klingTaskId = row.klingTaskId;
    if (klingTaskId === null) {
      // Only a task submitted by a crashed process can get here: find it by our own id.
      await dispatch(row, true);
      return;
    }
    await budget.take(work.signal);
    stats.checks += 1;
    let found;
    try {
      found = await kling.getTask(klingEndpointOf(row.model), klingTaskId, { signal: work.signal });
    } catch (error) {
      if (isKlingApiError(error) && !error.retryable && error.kind !== 'protocol') {
        logger.error({ taskId: row.id, err: error }, 'Kling refused a status query');
      }
      // A status we do not know, a 429 or a 5xx never fails the task; the deadline bounds it.
      await onUpstreamTrouble(row, error);
      return;
    }
    upstreamTrouble = 0;
    const now = clock.now();
    if (found === null) {
      stats.lost += 1;
      const lost = await tasks.apply(row.id, {
        from: [...AT_KLING_STATUSES],
        set: {
          status: 'FAILED',
          ...failureColumns({ code: 'UPSTREAM_TASK_LOST', message: 'Kling no longer knows this task.', retryable: true }),
          completedAt: now,
          nextCheckAt: null,
        },
        settle: 'refund',
      });
      if (lost) logger.warn({ taskId: row.id, klingTaskId }, 'Kling lost the task; refunded');
      return;
    }
    const change = transitionFor(row, found, now, now + nextCheckDelayMs(0, schedule));
    if (change && (await tasks.apply(row.id, { ...change, set: { ...change.set, checkAttempts: 0 } }))) {
      stats.transitions += 1;
      return;
    }
    await reschedule(row, nextCheckDelayMs(row.checkAttempts + 1, schedule));
  };

  /** Hands a queued task to Kling when its key has a free slot and it is next in line. */
  const dispatch = async (row: TaskRow, lookFirst: boolean) => {
    const now = clock.now();
    if (!(await store.reserveSubmitSlot(row, options.maxActivePerKey, now + options.submitLeaseMs))) {
      await reschedule(row, queueRecheckMs, row.checkAttempts);
      return;
    }
    await budget.take(work.signal);
    stats.dispatches += 1;
    await tasks.submitToKling(row, lookFirst);
  };

  const sweepOverdue = async () => {
    for (const row of await store.overdueTasks(clock.now(), 100)) {
      const now = clock.now();
      const timedOut = await tasks.apply(row.id, {
        from: [...OPEN_STATUSES],
        set: {
          status: 'TIMED_OUT',
          ...failureColumns({ code: 'TIMEOUT', message: 'The video was not ready before the deadline.', retryable: true }),
          completedAt: now,
          nextCheckAt: null,
        },
        settle: 'refund',
      });
      if (timedOut) stats.timedOut += 1;
    }
  };

  const handle = async (row: TaskRow) => {
    // Every dispatch looks the task up first: it may have been sent by a process that died.
    if (row.status === 'QUEUED') await dispatch(row, true);
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
    /** Looks for due work now instead of at the next tick. */
    wake: () => work.wake(),
    /** Stops claiming work and waits for the calls in flight; idempotent. */
    stop: () => work.stop(),
  };
}

export type Poller = ReturnType<typeof createPoller>;
