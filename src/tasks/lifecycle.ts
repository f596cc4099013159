// Every status change a task can make, in one table: the event, the statuses it may start from
// (compare-and-swap), where it goes, and what moves with it. Submit, the poller, Kling's callbacks,
// cancel and the deadline sweep fire events through `changeFor`; nothing else writes a status.
//
// The money rule behind the settle column: Kling bills a task it holds unless it fails it, so a task
// Kling accepted is charged when it succeeds, is canceled or runs past its deadline, and refunded only
// when Kling failed it or confirmed over time that it does not have it. A task Kling never took is
// always refunded. Terminal changes also give the task's slot back and write its webhook row, in the
// same transaction (see db transitions); every change is published to subscribers.
import type { TaskRow } from '../db/schema.js';
import { AT_KLING_STATUSES, isTerminal, OPEN_STATUSES, type TaskFailure, type TaskStatus } from './status.js';

export type Settlement = 'charge' | 'refund';

/**
 * An extra guard beside the from-statuses. `never-sent`: no create for the task may have reached
 * Kling yet, so a refund cannot meet a task Kling holds. An event whose facts say Kling does not have
 * the task (it refused the create, or confirmed its absence over time) needs no such guard.
 */
export type LifecycleGuard = 'never-sent';

export interface LifecycleRule {
  from: readonly TaskStatus[];
  to: TaskStatus;
  settle: Settlement | null;
  guard?: LifecycleGuard;
  /** Why, in a sentence: the README's lifecycle table is rendered from these. */
  why: string;
}

const QUEUED = ['QUEUED'] as const satisfies readonly TaskStatus[];

export const LIFECYCLE = {
  accepted: { from: QUEUED, to: 'SUBMITTED', settle: null, why: 'Kling accepted the create (or a lookup found it there).' },
  processing: {
    from: ['QUEUED', 'SUBMITTED'],
    to: 'PROCESSING',
    settle: null,
    why: 'Kling reports the task processing.',
  },
  succeeded: { from: OPEN_STATUSES, to: 'SUCCEEDED', settle: 'charge', why: 'Kling delivered the video and bills it.' },
  failedAtKling: {
    from: OPEN_STATUSES,
    to: 'FAILED',
    settle: 'refund',
    why: 'Kling failed the task (moderation, bad input, generation error) and bills nothing.',
  },
  refused: {
    from: QUEUED,
    to: 'FAILED',
    settle: 'refund',
    why: 'Kling refused the create for good (content policy, invalid input): it never took the task.',
  },
  lost: {
    from: AT_KLING_STATUSES,
    to: 'FAILED',
    settle: 'refund',
    why: 'Kling answered "not found" for the task, by its id and by ours, repeatedly over a confirmation window.',
  },
  canceledBeforeKling: {
    from: QUEUED,
    to: 'CANCELED',
    settle: 'refund',
    guard: 'never-sent',
    why: 'Canceled before Kling took the task: never sent, or Kling refused the in-flight submit or confirmed it does not have it.',
  },
  canceledAtKling: {
    from: OPEN_STATUSES,
    to: 'CANCELED',
    settle: 'charge',
    why: 'Canceled after Kling took the task: Kling has no cancel and bills it.',
  },
  timedOutWaiting: {
    from: QUEUED,
    to: 'TIMED_OUT',
    settle: 'refund',
    guard: 'never-sent',
    why: 'Still waiting for a slot at the deadline; Kling never took it.',
  },
  timedOutAtKling: {
    from: OPEN_STATUSES,
    to: 'TIMED_OUT',
    settle: 'charge',
    why: 'Kling still holds the task at the deadline; it is no longer tracked, and Kling bills it.',
  },
  unavailable: {
    from: QUEUED,
    to: 'FAILED',
    settle: 'refund',
    guard: 'never-sent',
    why: 'At the deadline, Kling was refusing our account (balance, arrears, permission): it never took the task.',
  },
} as const satisfies Record<string, LifecycleRule>;

export type TaskEvent = keyof typeof LIFECYCLE;
export const TASK_EVENTS = Object.keys(LIFECYCLE) as TaskEvent[];

/** What an event knows beyond the table: Kling's side of the task, the failure users see, the next check. */
export interface EventFacts {
  klingTaskId?: string | undefined;
  /** JSON of the task's videos, on success. */
  videos?: string | undefined;
  failure?: TaskFailure | undefined;
  /** When to look at a still-open task next. */
  nextCheckAt?: number | undefined;
  /** Kling refused the task's create for good, or confirmed over time that it does not have it. */
  klingDoesNotHaveIt?: boolean | undefined;
}

/** The columns an event writes, in the store's terms. */
export interface LifecycleChange {
  event: TaskEvent;
  from: readonly TaskStatus[];
  guard?: LifecycleGuard | undefined;
  settle?: Settlement | undefined;
  set: Partial<TaskRow>;
}

export const failureColumns = (failure: TaskFailure) => ({
  failureCode: failure.code,
  failureMessage: failure.message,
  failureRetryable: failure.retryable,
});

/** Builds the guarded change of `event` for `row` at `now`; the store applies it or finds it lost a race. */
export function changeFor(row: Pick<TaskRow, 'submittedAt'>, event: TaskEvent, facts: EventFacts, now: number): LifecycleChange {
  const rule: LifecycleRule = LIFECYCLE[event];
  const set: Partial<TaskRow> = { status: rule.to };
  if (facts.klingTaskId !== undefined) set.klingTaskId = facts.klingTaskId;
  if (rule.to === 'SUBMITTED' || rule.to === 'PROCESSING') {
    set.submittedAt = row.submittedAt ?? now;
    set.checkAttempts = 0;
    set.notFoundCount = 0;
    set.firstNotFoundAt = null;
  }
  if (facts.videos !== undefined) set.videos = facts.videos;
  if (facts.failure !== undefined) Object.assign(set, failureColumns(facts.failure));
  if (isTerminal(rule.to)) {
    set.completedAt = now;
    set.nextCheckAt = null;
  } else if (facts.nextCheckAt !== undefined) {
    set.nextCheckAt = facts.nextCheckAt;
  }
  return { event, from: rule.from, guard: facts.klingDoesNotHaveIt === true ? undefined : rule.guard, settle: rule.settle ?? undefined, set };
}
