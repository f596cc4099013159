// Submitting, reading and canceling tasks for one API key at a time.
import { randomBytes } from 'node:crypto';
import { computeBackoffMs } from '../backoff.js';
import type { Logger } from 'pino';
import { newId } from '../auth/api-keys.js';
import type { Clock } from '../clock.js';
import type { Pricing } from '../credits/pricing.js';
import type { TaskRow } from '../db/schema.js';
import type { Store, TaskPage, Transition } from '../db/store.js';
import { IdempotencyConflictError, InsufficientCreditsError, NotFoundError, UpstreamError } from '../errors.js';
import { isKlingApiError } from '../kling/errors.js';
import type { KlingClient } from '../kling/types.js';
import { fingerprintOf, type GenerateRequest } from './input.js';
import { failureColumns, failureFromSubmitError, toKlingRequest, transitionFor } from './kling-mapping.js';
import type { TaskPubSub } from './pubsub.js';
import { isTerminal, type TaskStatus } from './status.js';
import { toTaskView, type TaskView } from './task-view.js';
import { webhookDeliveryFor } from '../webhooks/webhook-event.js';

export interface TaskServiceOptions {
  store: Store;
  kling: KlingClient;
  pricing: Pricing;
  pubsub: TaskPubSub;
  clock: Clock;
  logger: Logger;
  /** A task not finished by then is timed out and refunded. */
  deadlineSeconds: number;
  /** Tasks one key may have at Kling at once; more wait in QUEUED. */
  maxActivePerKey: number;
  /** When to look at a task first after Kling accepted it. */
  firstCheckDelayMs: number;
  /** How long a submit may be in flight before another dispatcher may take the queued task over. */
  submitLeaseMs: number;
  /** Base of the per-task callback URL handed to Kling; unset when Kling cannot reach us. */
  callbackBaseUrl?: string | undefined;
  /** This instance's name in task leases: the instance that takes a task polls it. */
  instanceId: string;
  /**
   * Told when a task waits in the queue or was just submitted, so the poller looks at it when it is
   * due rather than at the end of an idle sleep it started before the task existed.
   */
  onQueued?: (() => void) | undefined;
  /** Told when a terminal state stored a webhook delivery, so it goes out before the sender's next tick. */
  onWebhookQueued?: (() => void) | undefined;
}

export function createTaskService(options: TaskServiceOptions) {
  const { store, kling, pricing, pubsub, clock, logger } = options;

  const publish = (row: TaskRow) => {
    pubsub.publish('task:updated', row.id, row);
  };

  /**
   * Applies a guarded change and announces it; undefined when the task had already moved on. Every
   * transition passes here, so a terminal one always stores its webhook delivery in the same transaction.
   */
  const apply = async (id: string, change: Transition): Promise<TaskRow | undefined> => {
    const now = clock.now();
    const row = await store.transition(id, { ...change, webhook: (task) => webhookDeliveryFor(task, now) }, now);
    if (row) {
      publish(row);
      if (isTerminal(row.status as TaskStatus)) {
        if (row.webhookUrl !== null) options.onWebhookQueued?.();
        // A slot at Kling may have freed: let the key's queue move now rather than at its next recheck.
        if (row.submittedAt !== null && (await store.wakeQueued(row.apiKeyId, now)) > 0) options.onQueued?.();
      }
    }
    return row;
  };

  const callbackUrlOf = (row: TaskRow) =>
    options.callbackBaseUrl ? `${options.callbackBaseUrl}/kling/callback/${row.id}/${row.callbackToken}` : undefined;

  /**
   * Hands a QUEUED task to Kling. Returns the row as it stands afterwards. A refusal that cannot
   * heal fails the task with a refund; anything transient leaves it QUEUED for the dispatcher.
   */
  const submitToKling = async (row: TaskRow, lookFirst: boolean): Promise<TaskRow> => {
    const now = clock.now();
    try {
      const request = toKlingRequest(toTaskView(row), callbackUrlOf(row));
      // After a crash or an ambiguous answer the task may already exist at Kling under our id.
      const found = lookFirst ? await kling.findTaskByExternalId(request.endpoint, row.id) : null;
      const task = found ?? (await kling.createTask(request));
      const change = transitionFor(row, task, clock.now(), clock.now() + options.firstCheckDelayMs);
      return (change && (await apply(row.id, change))) ?? (await store.getTask(row.id)) ?? row;
    } catch (error) {
      if (!isKlingApiError(error) || error.retryable || error.ambiguous) {
        logger.warn({ taskId: row.id, err: error }, 'submit to Kling did not go through; the task stays queued');
        const attempts = row.checkAttempts + 1;
        const delay = computeBackoffMs(attempts, { baseMs: 1_000, maxMs: options.submitLeaseMs });
        await store.reschedule(row.id, 'QUEUED', now + delay, attempts);
        return (await store.getTask(row.id)) ?? row;
      }
      const failed = await apply(row.id, {
        from: ['QUEUED'],
        set: { status: 'FAILED', ...failureColumns(failureFromSubmitError(error)), completedAt: clock.now(), nextCheckAt: null },
        settle: 'refund',
      });
      return failed ?? (await store.getTask(row.id)) ?? row;
    }
  };

  return {
    quote(request: GenerateRequest) {
      return pricing.quote(request);
    },

    /**
     * Prices the request, holds the price and records the task in one transaction, then submits it.
     * Throws InsufficientCreditsError / IdempotencyConflictError before anything is written, and
     * UpstreamError when Kling refused the task for good (the task is then FAILED and refunded).
     */
    async submit(apiKeyId: string, request: GenerateRequest): Promise<TaskView> {
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
          return toTaskView(outcome.task);
        case 'created':
          break;
      }
      publish(outcome.task);
      if (!outcome.task.holdsSlot) {
        // Over the key's slots at Kling: the poller hands it over, in order, when a slot frees.
        await store.reschedule(id, 'QUEUED', now, 0);
        options.onQueued?.();
        return toTaskView((await store.getTask(id)) ?? outcome.task);
      }
      const after = await submitToKling(outcome.task, false);
      // Its first check (firstCheckDelayMs away) may come before the end of the poller's idle sleep.
      if (after.nextCheckAt !== null) options.onQueued?.();
      if (after.status === 'FAILED' && after.klingTaskId === null) {
        throw new UpstreamError(after.failureMessage ?? 'Kling refused the task.', after.failureRetryable ?? false, after.id);
      }
      return toTaskView(after);
    },

    submitToKling,
    apply,
    publish,

    async find(apiKeyId: string, id: string): Promise<TaskView | null> {
      const row = await store.getTaskForKey(apiKeyId, id);
      return row ? toTaskView(row) : null;
    },

    async list(apiKeyId: string, page: TaskPage) {
      return (await store.listTasksForKey(apiKeyId, page)).map(toTaskView);
    },

    /**
     * A QUEUED task (Kling never saw it) is refunded; a task Kling accepted is charged, because Kling
     * bills it and has no cancel; a finished task stays as it is.
     */
    async cancel(apiKeyId: string, id: string): Promise<TaskView> {
      const row = await store.getTaskForKey(apiKeyId, id);
      if (!row) throw new NotFoundError(`No task ${id} for this key.`);
      const status = row.status as TaskStatus;
      if (isTerminal(status)) return toTaskView(row);
      const set = { status: 'CANCELED', completedAt: clock.now(), nextCheckAt: null } as const;
      const changed =
        status === 'QUEUED' && row.klingTaskId === null
          ? await apply(id, { from: ['QUEUED'], set, settle: 'refund' })
          : await apply(id, { from: [status], set, settle: 'charge' });
      // Losing the race means the task moved on (submitted, finished): answer with what it is now.
      return toTaskView(changed ?? (await store.getTask(id)) ?? row);
    },

    async queuePosition(task: TaskView): Promise<number | null> {
      if (task.status !== 'QUEUED') return null;
      return store.queuePosition(task.apiKeyId, task.createdAt.getTime(), task.id);
    },
  };
}

export type TaskService = ReturnType<typeof createTaskService>;
