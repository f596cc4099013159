// The gateway's task in Kling's terms and back: request fields, statuses and failure reasons.
import { MODEL_CAPABILITIES, type AspectRatio, type VideoMode, type VideoModel } from '../catalog/models.js';
import type { TaskRow } from '../db/schema.js';
import type { KlingApiError } from '../kling/errors.js';
import type { KlingCameraType, KlingCreateTaskRequest, KlingTask } from '../kling/types.js';
import type { Transition } from '../db/store.js';
import type { TaskView } from './task-view.js';
import { OPEN_STATUSES, type TaskFailure } from './status.js';

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

// Kling's failure reasons are free text; these words mark a moderation refusal (of the prompt or the output).
const CONTENT_POLICY_WORDS = /safety|policy|sensitive|moderat|inappropriate|violat/i;

export function failureFromKlingMessage(message: string): TaskFailure {
  return CONTENT_POLICY_WORDS.test(message)
    ? { code: 'CONTENT_POLICY', message: message || 'Kling refused the content.', retryable: false }
    : { code: 'UPSTREAM_ERROR', message: message || 'Kling could not generate the video.', retryable: true };
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

export const failureColumns = (failure: TaskFailure) => ({
  failureCode: failure.code,
  failureMessage: failure.message,
  failureRetryable: failure.retryable,
});

/**
 * The guarded change that brings our row in line with what Kling reports, or null when there is
 * nothing to change. `from` makes it a no-op if anything else (cancel, sweeper, callback) won first.
 */
export function transitionFor(row: TaskRow, kling: KlingTask, now: number, nextCheckAt: number): Transition | null {
  const open = [...OPEN_STATUSES];
  switch (kling.status) {
    case 'submitted':
      return row.status === 'QUEUED'
        ? { from: ['QUEUED'], set: { status: 'SUBMITTED', klingTaskId: kling.taskId, submittedAt: now, nextCheckAt } }
        : null;
    case 'processing':
      return row.status === 'QUEUED' || row.status === 'SUBMITTED'
        ? {
            from: ['QUEUED', 'SUBMITTED'],
            set: { status: 'PROCESSING', klingTaskId: kling.taskId, submittedAt: row.submittedAt ?? now, nextCheckAt },
          }
        : null;
    case 'succeed':
      return {
        from: open,
        set: {
          status: 'SUCCEEDED',
          klingTaskId: kling.taskId,
          videos: JSON.stringify(
            kling.videos.map((v, n) => ({ id: `${row.id}-${n}`, url: v.url, durationSeconds: v.durationSeconds })),
          ),
          completedAt: now,
          nextCheckAt: null,
        },
        settle: 'charge',
      };
    case 'failed':
      return {
        from: open,
        set: {
          status: 'FAILED',
          klingTaskId: kling.taskId,
          ...failureColumns(failureFromKlingMessage(kling.statusMessage)),
          completedAt: now,
          nextCheckAt: null,
        },
        settle: 'refund',
      };
  }
}
