// A simulated task never runs: its status is computed from its timestamps whenever someone looks,
// so 10,000 open tasks cost nothing between reads (kling-api.md section 6).
import type { KlingEndpoint, KlingTaskStatus } from '../types.js';
import type { AcceptedCreate } from './create-rules.js';

/** Share of a task's time spent `submitted` before it turns `processing`. */
const SUBMITTED_SHARE = 0.1;
/** Kling purges generated files after 30 days, and its CDN links expire then (kling-api.md section 5). */
const LINK_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

export interface SimTask {
  taskId: string;
  videoId: string;
  endpoint: KlingEndpoint;
  account: string;
  request: AcceptedCreate;
  /** Unix milliseconds, like every time below. */
  createdAt: number;
  processingAt: number;
  finishedAt: number;
  /** Why the task will fail, or undefined when it will succeed. */
  failureMessage: string | undefined;
}

export interface TaskPlan {
  createdAt: number;
  /** How long the task takes from submit to its terminal state. */
  durationMs: number;
  failureMessage: string | undefined;
}

export function planTimes(plan: TaskPlan): Pick<SimTask, 'createdAt' | 'processingAt' | 'finishedAt'> {
  const durationMs = Math.max(0, plan.durationMs);
  return {
    createdAt: plan.createdAt,
    processingAt: plan.createdAt + Math.round(durationMs * SUBMITTED_SHARE),
    finishedAt: plan.createdAt + Math.round(durationMs),
  };
}

export function statusAt(task: SimTask, now: number): KlingTaskStatus {
  if (now >= task.finishedAt) return task.failureMessage === undefined ? 'succeed' : 'failed';
  if (now >= task.processingAt) return 'processing';
  return 'submitted';
}

export function isOpenAt(task: SimTask, now: number): boolean {
  return now < task.finishedAt;
}

function updatedAt(task: SimTask, status: KlingTaskStatus): number {
  if (status === 'submitted') return task.createdAt;
  if (status === 'processing') return task.processingAt;
  return task.finishedAt;
}

/** The transitions a callback reports, in order: Kling posts on each status change after creation. */
export function callbackTimes(task: SimTask): number[] {
  return task.processingAt < task.finishedAt ? [task.processingAt, task.finishedAt] : [task.finishedAt];
}

export function videoPath(task: SimTask): string {
  return `/videos/${task.taskId}/${task.videoId}.mp4`;
}

/** A decimal string near the request, as Kling reports it ("5.1" for a 5 s clip). */
function reportedDuration(seconds: number): string {
  return (seconds + 0.1).toFixed(1);
}

export type RenderPurpose = 'create' | 'query' | 'callback';

/**
 * The wire task object as Kling would show it at `now`. The create answer carries only the first
 * fields; callbacks carry the empty `images`/`audios` arrays seen in a real capture.
 */
export function renderTask(task: SimTask, now: number, baseUrl: string, purpose: RenderPurpose): Record<string, unknown> {
  const status = statusAt(task, now);
  const externalId = task.request.externalTaskId;
  const taskInfo = externalId === undefined ? {} : { external_task_id: externalId };
  if (purpose === 'create') {
    return { task_id: task.taskId, task_status: status, task_info: taskInfo, created_at: task.createdAt, updated_at: task.createdAt };
  }
  const wire: Record<string, unknown> = {
    task_id: task.taskId,
    task_status: status,
    task_status_msg: status === 'failed' ? task.failureMessage : '',
    task_info: taskInfo,
    created_at: task.createdAt,
    updated_at: updatedAt(task, status),
    watermark_info: { enabled: task.request.watermark },
  };
  const extra = purpose === 'callback' ? { images: [], audios: [] } : {};
  if (status === 'succeed') {
    const expiresSeconds = Math.floor((task.finishedAt + LINK_LIFETIME_MS) / 1000);
    const url = `${baseUrl}${videoPath(task)}?Expires=${expiresSeconds}`;
    const video: Record<string, string> = { id: task.videoId, url, duration: reportedDuration(task.request.durationSeconds) };
    if (task.request.watermark) video.watermark_url = `${url}&watermark=1`;
    wire.task_result = { videos: [video], ...extra };
    wire.final_unit_deduction = String(task.request.units);
  } else if (status === 'failed') {
    wire.task_result = { ...extra };
    wire.final_unit_deduction = '0';
  }
  return wire;
}
