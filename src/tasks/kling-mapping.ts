// The gateway's task in Kling's terms and back: request fields, statuses and failure reasons.
import { MODEL_CAPABILITIES, type AspectRatio, type VideoMode, type VideoModel } from '../catalog/models.js';
import type { TaskRow } from '../db/schema.js';
import type { KlingApiError } from '../kling/errors.js';
import type { KlingCameraType, KlingCreateTaskRequest, KlingTask } from '../kling/types.js';
import type { EventFacts, TaskEvent } from './lifecycle.js';
import type { TaskView } from './task-view.js';
import { failureFromKlingMessage } from './failure-reasons.js';
import type { TaskFailure } from './status.js';

/** Kling's names for our modes and aspect ratios; the MCP tools speak Kling's vocabulary too. */
export const KLING_MODE: Record<VideoMode, 'std' | 'pro'> = { STANDARD: 'std', PROFESSIONAL: 'pro' };
export const KLING_ASPECT_RATIO: Record<AspectRatio, '16:9' | '9:16' | '1:1'> = { RATIO_16_9: '16:9', RATIO_9_16: '9:16', RATIO_1_1: '1:1' };

export function klingEndpointOf(model: string) {
  return MODEL_CAPABILITIES[model as VideoModel].endpoint;
}

export function toKlingRequest(task: TaskView, callbackUrl: string | undefined): KlingCreateTaskRequest {
  const caps = MODEL_CAPABILITIES[task.model];
  return {
    endpoint: caps.endpoint,
    modelName: caps.klingName,
    prompt: task.prompt,
    negativePrompt: task.negativePrompt ?? undefined,
    mode: caps.sendsMode ? KLING_MODE[task.mode] : undefined,
    aspectRatio: KLING_ASPECT_RATIO[task.aspectRatio],
    durationSeconds: task.durationSeconds,
    cfgScale: task.cfgScale ?? undefined,
    cameraControl: task.cameraControl
      ? {
          type: task.cameraControl.type.toLowerCase() as KlingCameraType,
          config: task.cameraControl.config ?? undefined,
        }
      : undefined,
    sound: caps.audioModes.length > 0 ? (task.generateAudio ? 'on' : 'off') : undefined,
    callbackUrl,
    externalTaskId: task.id,
  };
}

/** A submit that Kling refused for good: what the user is told. */
export function failureFromSubmitError(error: KlingApiError): TaskFailure {
  switch (error.kind) {
    case 'content_policy':
      return { code: 'CONTENT_POLICY', message: `Kling refused the prompt: ${error.message}`, retryable: false };
    case 'invalid_params':
    case 'not_found':
      return { code: 'INVALID_INPUT', message: `Kling rejected the input: ${error.message}`, retryable: false };
    default:
      // Auth, account or balance problems at Kling are the operator's to fix; the user may try again later.
      return { code: 'UPSTREAM_ERROR', message: 'The video service is not accepting tasks right now.', retryable: true };
  }
}

/** What Kling's view of a task means for ours: the lifecycle event, and the facts it carries. */
export function eventFor(row: Pick<TaskRow, 'id'>, kling: KlingTask, nextCheckAt: number): { event: TaskEvent; facts: EventFacts } {
  const klingTaskId = kling.taskId;
  switch (kling.status) {
    case 'submitted':
      return { event: 'accepted', facts: { klingTaskId, nextCheckAt } };
    case 'processing':
      return { event: 'processing', facts: { klingTaskId, nextCheckAt } };
    case 'succeed':
      return {
        event: 'succeeded',
        facts: {
          klingTaskId,
          videos: JSON.stringify(kling.videos.map((v, n) => ({ id: `${row.id}-${n}`, url: v.url, durationSeconds: v.durationSeconds }))),
        },
      };
    case 'failed':
      return { event: 'failedAtKling', facts: { klingTaskId, failure: failureFromKlingMessage(kling.statusMessage) } };
  }
}
