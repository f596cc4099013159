// Fires lifecycle events: builds the guarded change from the lifecycle table, lets the store apply
// it in one transaction (status, settlement, slot, webhook row), then announces it. The only writer
// of a task's status after its creation.
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { untracedJobSpans, type JobSpans } from '../telemetry/job-spans.js';
import { webhookDeliveryFor } from '../webhooks/webhook-event.js';
import { changeFor, LIFECYCLE, type EventFacts, type TaskEvent } from './lifecycle.js';
import type { TaskPubSub } from './pubsub.js';
import { isTerminal } from './status.js';

export interface TaskTransitionsOptions {
  store: Store;
  pubsub: TaskPubSub;
  clock: Clock;
  /** Told when a terminal change may have freed a slot and woken the key's queue. */
  onQueued?: (() => void) | undefined;
  /** Told when a terminal change stored a webhook delivery. */
  onWebhookQueued?: (() => void) | undefined;
  /** Told of every applied change (metrics). */
  onApplied?: ((event: TaskEvent, row: TaskRow) => void) | undefined;
  /** A change into a terminal status is a span of the task's trace. */
  jobSpans?: JobSpans | undefined;
}

export function createTaskTransitions(options: TaskTransitionsOptions) {
  const { store, pubsub, clock } = options;
  const jobSpans = options.jobSpans ?? untracedJobSpans;

  const publish = (row: TaskRow) => {
    pubsub.publish(row);
  };

  /**
   * Applies `event` to the task if it is still in one of the event's from-statuses; returns the updated
   * row, or undefined when another writer got there first (then nothing changed).
   */
  const fire = async (row: TaskRow, event: TaskEvent, facts: EventFacts = {}): Promise<TaskRow | undefined> => {
    const rule = LIFECYCLE[event];
    const status = row.status;
    // Statuses only move forward: a finished task, or one already where the event leads, needs no write.
    if (isTerminal(status) || (status === rule.to && !isTerminal(rule.to))) return undefined;
    // Only the end gets a span of its own; the steps before it show in the submit's and polls' spans.
    if (!isTerminal(rule.to)) return apply(row, event, facts);
    return jobSpans('task.transition', row, async (span) => {
      span?.setAttributes({ 'kling_gateway.task.event': event, 'kling_gateway.task.from_status': status });
      const updated = await apply(row, event, facts);
      span?.setAttributes(updated ? { 'kling_gateway.task.status': updated.status } : { 'kling_gateway.transition.applied': false });
      return updated;
    });
  };

  const apply = async (row: TaskRow, event: TaskEvent, facts: EventFacts): Promise<TaskRow | undefined> => {
    const now = clock.now();
    const change = changeFor(row, event, facts, now);
    const updated = await store.transition(row.id, { ...change, webhook: (task) => webhookDeliveryFor(task, now) }, now);
    if (!updated) return undefined;
    publish(updated);
    options.onApplied?.(event, updated);
    // A cancel asked for while the submit was in flight: Kling took the task after all, so it ends
    // canceled and charged (Kling bills it). The cancel's own write could not, the task was QUEUED.
    if (updated.cancelRequestedAt !== null && !isTerminal(updated.status) && updated.status !== 'QUEUED') {
      return (await fire(updated, 'canceledAtKling')) ?? updated;
    }
    if (isTerminal(updated.status)) {
      if (updated.webhookUrl !== null) options.onWebhookQueued?.();
      // A slot at Kling may have freed: let the key's queue move now rather than at its next recheck.
      if (updated.submitSentAt !== null && (await store.wakeQueued(updated.apiKeyId, now)) > 0) options.onQueued?.();
    }
    return updated;
  };

  return { fire, publish };
}

export type TaskTransitions = ReturnType<typeof createTaskTransitions>;
