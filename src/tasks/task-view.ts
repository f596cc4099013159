// What resolvers, subscribers and the MCP tool see of a task: the row with its JSON columns parsed.
import type { AspectRatio, CameraMovement, VideoMode, VideoModel } from '../catalog/models.js';
import type { TaskRow } from '../db/schema.js';
import type { CameraConfig } from './input.js';
import type { FailureCode, TaskFailure, TaskStatus } from './status.js';

export interface TaskVideo {
  /** Index-based id, stable for the task: `<taskId>-<n>`. */
  id: string;
  url: string;
  durationSeconds: number;
}

export interface TaskView {
  id: string;
  apiKeyId: string;
  status: TaskStatus;
  prompt: string;
  negativePrompt: string | null;
  model: VideoModel;
  mode: VideoMode;
  aspectRatio: AspectRatio;
  durationSeconds: number;
  cfgScale: number | null;
  generateAudio: boolean;
  cameraControl: { type: CameraMovement; config: CameraConfig | null } | null;
  credits: number;
  creditsCharged: number;
  failure: TaskFailure | null;
  videos: TaskVideo[];
  webhookUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  version: number;
}

export function toTaskView(row: TaskRow): TaskView {
  return {
    id: row.id,
    apiKeyId: row.apiKeyId,
    status: row.status,
    prompt: row.prompt,
    negativePrompt: row.negativePrompt,
    model: row.model as VideoModel,
    mode: row.mode as VideoMode,
    aspectRatio: row.aspectRatio as AspectRatio,
    durationSeconds: row.durationSeconds,
    cfgScale: row.cfgScale,
    generateAudio: row.generateAudio,
    cameraControl: row.cameraControl ? (JSON.parse(row.cameraControl) as TaskView['cameraControl']) : null,
    credits: row.credits,
    creditsCharged: row.creditsCharged,
    failure:
      row.failureCode !== null
        ? {
            code: row.failureCode as FailureCode,
            message: row.failureMessage ?? '',
            retryable: row.failureRetryable ?? false,
          }
        : null,
    videos: JSON.parse(row.videos) as TaskVideo[],
    webhookUrl: row.webhookUrl,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
    completedAt: row.completedAt !== null ? new Date(row.completedAt) : null,
    version: row.version,
  };
}
