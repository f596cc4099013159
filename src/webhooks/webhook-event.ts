// What a task's terminal state becomes in the outbox: the event type and the exact body to send.
import { randomUUID } from 'node:crypto';
import type { NewWebhookDeliveryRow, TaskRow, WebhookEvent } from '../db/schema.js';
import type { TaskStatus } from '../tasks/status.js';
import { toTaskView } from '../tasks/task-view.js';

export const WEBHOOK_EVENT_OF_STATUS: Partial<Record<TaskStatus, WebhookEvent>> = {
  SUCCEEDED: 'video_task.succeeded',
  FAILED: 'video_task.failed',
  CANCELED: 'video_task.canceled',
  TIMED_OUT: 'video_task.timed_out',
};

/**
 * The delivery to store with a task that has just reached `task.status`, or undefined when the task
 * asked for no webhook or the state is not terminal.
 */
export function webhookDeliveryFor(task: TaskRow, now: number): NewWebhookDeliveryRow | undefined {
  const event = WEBHOOK_EVENT_OF_STATUS[task.status];
  if (!event || !task.webhookUrl) return undefined;
  const view = toTaskView(task);
  // Deliberately small and free of the key's own data (prompt, key id): a receiver that wants more asks
  // the API with its key. Field names follow the GraphQL VideoTask type.
  const payload = {
    type: event,
    timestamp: new Date(now).toISOString(),
    data: {
      id: view.id,
      status: view.status,
      credits: view.credits,
      creditsCharged: view.creditsCharged,
      failure: view.failure,
      videos: view.videos.map(({ id, url, durationSeconds }) => ({ id, url, durationSeconds })),
      createdAt: view.createdAt.toISOString(),
      completedAt: view.completedAt?.toISOString() ?? null,
    },
  };
  return {
    id: `msg_${randomUUID().replaceAll('-', '')}`,
    taskId: task.id,
    apiKeyId: task.apiKeyId,
    url: task.webhookUrl,
    event,
    payload: JSON.stringify(payload),
    status: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    traceparent: task.traceparent,
  };
}
