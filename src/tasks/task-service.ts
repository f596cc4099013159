// Submitting, reading and canceling tasks for one API key at a time.
import { randomBytes } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { newId } from '../auth/api-keys.js';
import type { Clock } from '../clock.js';
import type { Pricing } from '../credits/pricing.js';
import type { TaskRow } from '../db/schema.js';
import type { Store, TaskPage } from '../db/store.js';
import { IdempotencyConflictError, InsufficientCreditsError, NotFoundError, UpstreamError } from '../errors.js';
import { fingerprintOf, type GenerateRequest } from './input.js';
import { isTerminal } from './status.js';
import { ATTR_TASK_ID, formatTraceparent } from '../telemetry/job-spans.js';
import type { Submitter } from './submitter.js';
import { toTaskView, type TaskView } from './task-view.js';
import type { TaskTransitions } from './transitions.js';
import type { UpstreamHealth } from './upstream-health.js';

export interface TaskServiceOptions {
  store: Store;
  pricing: Pricing;
  transitions: TaskTransitions;
  submitter: Submitter;
  health: UpstreamHealth;
  clock: Clock;
  /** A task not finished by then is timed out (refunded unless Kling holds it, see lifecycle.ts). */
  deadlineSeconds: number;
  /** Tasks one key may have at Kling at once; more wait in QUEUED. */
  maxActivePerKey: number;
  /** How long a submit may be in flight before another dispatcher may take the queued task over. */
  submitLeaseMs: number;
  /** This instance's name in task leases: the instance that takes a task polls it. */
  instanceId: string;
  /**
   * Told when a task waits in the queue or was just submitted, so the poller looks at it when it is
   * due rather than at the end of an idle sleep it started before the task existed.
   */
  onQueued?: (() => void) | undefined;
}

export function createTaskService(options: TaskServiceOptions) {
  const { store, pricing, transitions, submitter, health, clock } = options;
  const current = async (id: string, fallback: TaskRow) => (await store.getTask(id)) ?? fallback;

  return {
    quote(request: GenerateRequest) {
      return pricing.quote(request);
    },

    /**
     * Prices the request, holds the price and records the task in one transaction, then submits it.
     * Throws InsufficientCreditsError / IdempotencyConflictError before anything is written, and
     * UpstreamError when Kling refused the task for good (the task is then FAILED and refunded).
     * `trace`: the operation's span, when traced; the task's job continues its trace.
     */
    async submit(apiKeyId: string, request: GenerateRequest, trace?: Span): Promise<TaskView> {
      const { credits } = pricing.quote(request);
      const now = clock.now();
      const id = newId('vt_');
      const outcome = await store.insertTaskWithHold(
        {
          id,
          apiKeyId,
          status: 'QUEUED',
          prompt: request.prompt,
          negativePrompt: request.negativePrompt,
          model: request.model,
          mode: request.mode,
          aspectRatio: request.aspectRatio,
          durationSeconds: request.durationSeconds,
          cfgScale: request.cfgScale,
          cameraControl: request.cameraControl ? JSON.stringify(request.cameraControl) : null,
          generateAudio: request.generateAudio,
          webhookUrl: request.webhookUrl,
          idempotencyKey: request.idempotencyKey,
          inputFingerprint: fingerprintOf(request),
          credits,
          callbackToken: randomBytes(24).toString('base64url'),
          createdAt: now,
          updatedAt: now,
          deadlineAt: now + options.deadlineSeconds * 1000,
          // If this process dies before the submit below finishes, another poller takes the task over then.
          nextCheckAt: now + options.submitLeaseMs,
          leaseOwner: options.instanceId,
          leaseExpiresAt: now + options.submitLeaseMs,
          traceparent: trace ? formatTraceparent(trace.spanContext()) : undefined,
        },
        // Taken in the same transaction as the hold when the key has one free and nobody is waiting.
        { maxActive: options.maxActivePerKey, until: now + options.submitLeaseMs },
      );
      switch (outcome.kind) {
        case 'insufficient-credits':
          throw new InsufficientCreditsError(credits, outcome.available);
        case 'idempotency-conflict':
          throw new IdempotencyConflictError(request.idempotencyKey ?? '');
        case 'replayed':
          trace?.setAttribute(ATTR_TASK_ID, outcome.task.id);
          return toTaskView(outcome.task);
        case 'created':
          trace?.setAttribute(ATTR_TASK_ID, id);
          break;
      }
      transitions.publish(outcome.task);
      if (!outcome.task.holdsSlot || !health.admit()) {
        // Over the key's slots at Kling, or Kling refuses our account for now: the poller hands it
        // over, in order, when a slot frees or the upstream takes tasks again.
        const paused = outcome.task.holdsSlot;
        // Nothing was sent: the slot goes back, and no lookup is needed before a refund.
        const also = paused ? { submitSentAt: null, upstreamRefusal: health.paused?.reason ?? null } : {};
        await store.reschedule(id, 'QUEUED', paused ? health.retryAt() : now, 0, undefined, also);
        options.onQueued?.();
        return toTaskView(await current(id, outcome.task));
      }
      const after = await submitter.submit(outcome.task, false);
      // Its first check (firstCheckDelayMs away) may come before the end of the poller's idle sleep.
      if (after.nextCheckAt !== null) options.onQueued?.();
      if (after.status === 'FAILED' && after.klingTaskId === null) {
        throw new UpstreamError(after.failureMessage ?? 'Kling refused the task.', after.failureRetryable ?? false, after.id);
      }
      return toTaskView(after);
    },

    async find(apiKeyId: string, id: string): Promise<TaskView | null> {
      const row = await store.getTaskForKey(apiKeyId, id);
      return row ? toTaskView(row) : null;
    },

    async list(apiKeyId: string, page: TaskPage) {
      return (await store.listTasksForKey(apiKeyId, page)).map(toTaskView);
    },

    /**
     * A task Kling never saw is refunded; a task Kling accepted is charged, because Kling bills it and
     * has no cancel; a finished task stays as it is. A task whose submit may have reached Kling stays
     * QUEUED with the cancel recorded until Kling's answer is known, then ends one way or the other.
     */
    async cancel(apiKeyId: string, id: string): Promise<TaskView> {
      const row = await store.getTaskForKey(apiKeyId, id);
      if (!row) throw new NotFoundError(`No task ${id} for this key.`);
      if (isTerminal(row.status)) return toTaskView(row);
      if (row.status === 'QUEUED') {
        // Guarded by "never sent": loses to a dispatcher that reserved the task's slot a moment ago.
        const canceled = await transitions.fire(row, 'canceledBeforeKling');
        if (canceled) return toTaskView(canceled);
        const requested = await store.requestCancel(id, clock.now());
        if (requested) {
          // No submit in flight (it failed, or its process died): settle it now rather than at the next check.
          const inFlight = requested.holdsSlot && requested.submittingUntil !== null && requested.submittingUntil > clock.now();
          if (!inFlight) return toTaskView(await submitter.settleCancel(requested));
          return toTaskView(requested);
        }
      }
      // At Kling (or it got there while we looked): canceled and charged.
      const latest = await current(id, row);
      if (isTerminal(latest.status)) return toTaskView(latest);
      return toTaskView((await transitions.fire(latest, 'canceledAtKling')) ?? (await current(id, latest)));
    },

    async queuePosition(task: TaskView): Promise<number | null> {
      if (task.status !== 'QUEUED') return null;
      return store.queuePosition(task.apiKeyId, task.createdAt.getTime(), task.id);
    },
  };
}

export type TaskService = ReturnType<typeof createTaskService>;
