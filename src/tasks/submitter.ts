// Hands a QUEUED task that holds a slot to Kling, and reads what came back as a lifecycle event. The
// one rule it keeps: never refund a task Kling may hold. A create that may have reached Kling is looked
// up (by our own id) before anything else is decided; a cancel asked for meanwhile only ever looks.
import { SpanKind, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { computeBackoffMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { isKlingApiError } from '../kling/errors.js';
import type { KlingClient } from '../kling/types.js';
import { ATTR_KLING_TASK_ID, failSpan, untracedJobSpans, type JobSpans } from '../telemetry/job-spans.js';
import { countNotFound, type AbsenceRule } from './absence.js';
import { eventFor, failureFromSubmitError, klingEndpointOf, toKlingRequest } from './kling-mapping.js';
import { toTaskView } from './task-view.js';
import type { TaskTransitions } from './transitions.js';
import { isAccountRefusal, type UpstreamHealth } from './upstream-health.js';

export interface SubmitterOptions {
  store: Store;
  kling: KlingClient;
  transitions: TaskTransitions;
  health: UpstreamHealth;
  clock: Clock;
  logger: Logger;
  absence: AbsenceRule;
  /** When to look at a task first after Kling accepted it. */
  firstCheckDelayMs: number;
  /** Longest wait before a failed submit is tried again. */
  maxRetryDelayMs: number;
  /** Base of the per-task callback URL handed to Kling; unset when Kling cannot reach us. */
  callbackBaseUrl?: string | undefined;
  /** Each submit is a span of the task's trace. */
  jobSpans?: JobSpans | undefined;
}

/** Kling asks for a second at least between retries after its own server errors. */
const MIN_RETRY_DELAY_MS = 1_000;

export function createSubmitter(options: SubmitterOptions) {
  const { store, kling, transitions, health, clock, logger } = options;
  const jobSpans = options.jobSpans ?? untracedJobSpans;

  const current = async (row: TaskRow) => (await store.getTask(row.id)) ?? row;

  const callbackUrlOf = (row: TaskRow) =>
    options.callbackBaseUrl ? `${options.callbackBaseUrl}/kling/callback/${row.id}/${row.callbackToken}` : undefined;

  /**
   * Back to waiting: the slot is given back and the task looked at again at `at`. `neverSent` says no
   * create of this task can have reached Kling (this one was refused outright and none came before),
   * so a refund later needs no lookup.
   */
  const requeue = async (row: TaskRow, at: number, attempts: number, also: { upstreamRefusal?: string; neverSent?: boolean } = {}) => {
    await store.reschedule(row.id, 'QUEUED', at, attempts, undefined, {
      ...(also.upstreamRefusal !== undefined ? { upstreamRefusal: also.upstreamRefusal } : {}),
      ...(also.neverSent === true ? { submitSentAt: null } : {}),
    });
    return current(row);
  };

  const retryLater = (row: TaskRow, neverSent = false) => {
    const attempts = row.checkAttempts + 1;
    const delay = Math.max(MIN_RETRY_DELAY_MS, computeBackoffMs(attempts, { baseMs: MIN_RETRY_DELAY_MS, maxMs: options.maxRetryDelayMs }));
    return requeue(row, clock.now() + delay, attempts, { neverSent });
  };

  /** Brings our row in line with the task Kling has. */
  const adopt = async (row: TaskRow, found: Awaited<ReturnType<KlingClient['createTask']>>) => {
    const { event, facts } = eventFor(row, found, clock.now() + options.firstCheckDelayMs);
    return (await transitions.fire(row, event, facts)) ?? current(row);
  };

  /**
   * A cancel was asked for while a submit may have reached Kling. Only lookups from here on: found,
   * the task is Kling's and ends as Kling says (canceled and charged while it runs); confirmed absent
   * over time, nobody will bill it and it is refunded.
   */
  const settleCancel = async (row: TaskRow): Promise<TaskRow> => {
    let found;
    try {
      found = await kling.findTaskByExternalId(klingEndpointOf(row.model), row.id);
    } catch (error) {
      logger.warn({ taskId: row.id, err: error }, 'could not look up a canceled task at Kling; trying again');
      return retryLater(row);
    }
    if (found) {
      const { event, facts } = eventFor(row, found, clock.now());
      // Running at Kling: fire the cancel on the adopted row. Already finished there: that is the end.
      const adopted = (await transitions.fire(row, event, facts)) ?? (await current(row));
      return adopted.status === 'QUEUED' ? ((await transitions.fire(adopted, 'canceledAtKling', facts)) ?? current(row)) : adopted;
    }
    const confirmed = await countNotFound(store, row, clock.now(), options.absence);
    if (confirmed) return (await transitions.fire(confirmed, 'canceledBeforeKling', { klingDoesNotHaveIt: true })) ?? current(row);
    return current(row);
  };

  const submit = async (row: TaskRow, lookFirst: boolean, span: Span | undefined): Promise<TaskRow> => {
    if (row.cancelRequestedAt !== null) {
      health.inconclusive();
      return settleCancel(row);
    }
    try {
      const request = toKlingRequest(toTaskView(row), callbackUrlOf(row));
      const found = lookFirst ? await kling.findTaskByExternalId(request.endpoint, row.id) : null;
      if (found) {
        health.inconclusive();
        return await adopt(row, found);
      }
      const created = await kling.createTask(request);
      health.accepted();
      return await adopt(row, created);
    } catch (error) {
      // Handled below (retried, waited out or refused), but the span shows what Kling answered.
      if (span) failSpan(span, error);
      // A clear "no" (not ambiguous) to the first send of this task: Kling cannot have it.
      const neverSent = !lookFirst && isKlingApiError(error) && !error.ambiguous;
      if (neverSent) {
        // A cancel asked for while this send was in flight can end the task now: Kling has nothing to bill.
        const latest = await current(row);
        if (latest.cancelRequestedAt !== null) {
          if (isKlingApiError(error) && isAccountRefusal(error)) health.refused(error);
          else health.inconclusive();
          return (await transitions.fire(latest, 'canceledBeforeKling', { klingDoesNotHaveIt: true })) ?? current(row);
        }
      }
      if (isKlingApiError(error) && isAccountRefusal(error)) {
        // Our account, not this task: wait QUEUED until the operator fixes it or the deadline comes.
        health.refused(error);
        return requeue(row, health.retryAt(), row.checkAttempts, { upstreamRefusal: error.message, neverSent });
      }
      health.inconclusive();
      if (!isKlingApiError(error) || error.retryable || error.ambiguous) {
        logger.warn({ taskId: row.id, err: error }, 'submit to Kling did not go through; the task stays queued');
        return retryLater(row, neverSent);
      }
      // Refused for good: Kling did not take it. A cancel asked for meanwhile wins over the failure.
      const latest = await current(row);
      const facts = { klingDoesNotHaveIt: true };
      if (latest.cancelRequestedAt !== null) return (await transitions.fire(latest, 'canceledBeforeKling', facts)) ?? current(row);
      return (await transitions.fire(latest, 'refused', { ...facts, failure: failureFromSubmitError(error) })) ?? current(row);
    }
  };

  return {
    settleCancel,

    /**
     * Sends the task to Kling, unless a lookup (when an earlier send may have reached Kling) finds it
     * there. The caller has reserved the task's slot and been admitted by the upstream health.
     * Returns the row as it stands afterwards.
     */
    submit: (row: TaskRow, lookFirst: boolean): Promise<TaskRow> =>
      jobSpans(
        'kling.submit',
        row,
        async (span) => {
          span?.setAttribute('kling_gateway.submit.look_first', lookFirst);
          const after = await submit(row, lookFirst, span);
          if (after.klingTaskId !== null) span?.setAttribute(ATTR_KLING_TASK_ID, after.klingTaskId);
          span?.setAttribute('kling_gateway.task.status', after.status);
          return after;
        },
        SpanKind.CLIENT,
      ),
  };
}

export type Submitter = ReturnType<typeof createSubmitter>;
