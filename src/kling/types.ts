// The Kling boundary in the gateway's own terms (camelCase, numbers as numbers).
// Kling's snake_case wire format lives in wire.ts and never leaves src/kling/.

export const KLING_TASK_STATUSES = ['submitted', 'processing', 'succeed', 'failed'] as const;
export type KlingTaskStatus = (typeof KLING_TASK_STATUSES)[number];

/** Kling serves text-to-video for most models and the omni-video endpoint for the omni models. */
export const KLING_ENDPOINTS = ['text2video', 'omni-video'] as const;
export type KlingEndpoint = (typeof KLING_ENDPOINTS)[number];

export const KLING_CAMERA_TYPES = ['simple', 'down_back', 'forward_up', 'right_turn_forward', 'left_turn_forward'] as const;
export type KlingCameraType = (typeof KLING_CAMERA_TYPES)[number];

export interface KlingCameraConfig {
  horizontal: number;
  vertical: number;
  pan: number;
  tilt: number;
  roll: number;
  zoom: number;
}

export interface KlingCreateTaskRequest {
  endpoint: KlingEndpoint;
  /** Kling's model_name, e.g. `kling-v2-6`. */
  modelName: string;
  prompt: string;
  negativePrompt?: string | undefined;
  mode?: 'std' | 'pro' | undefined;
  aspectRatio?: '16:9' | '9:16' | '1:1' | undefined;
  durationSeconds?: number | undefined;
  cfgScale?: number | undefined;
  cameraControl?: { type: KlingCameraType; config?: KlingCameraConfig | undefined } | undefined;
  sound?: 'on' | 'off' | undefined;
  callbackUrl?: string | undefined;
  /** Our own task id: unique per account, and the key for finding a task after an ambiguous submit. */
  externalTaskId: string;
}

export interface KlingVideo {
  id: string;
  url: string;
  durationSeconds: number;
}

export interface KlingTask {
  taskId: string;
  status: KlingTaskStatus;
  /** Kling's reason for a failure; empty otherwise. */
  statusMessage: string;
  externalTaskId?: string | undefined;
  /** Unix milliseconds. */
  createdAt: number;
  /** Unix milliseconds. */
  updatedAt: number;
  videos: KlingVideo[];
  /** Units Kling reports as charged, when it reports them. */
  finalUnitDeduction?: string | undefined;
}

export interface KlingListOptions {
  /** 1..1000, Kling's default 1. */
  pageNum?: number;
  /** 1..500, Kling's default 30. */
  pageSize?: number;
}

export interface KlingCallOptions {
  signal?: AbortSignal;
}

export interface KlingClient {
  /**
   * Creates a task. Retries only when that is safe, and after an ambiguous failure looks the task up
   * by `externalTaskId` before sending again, so one of our tasks never becomes two at Kling.
   */
  createTask(request: KlingCreateTaskRequest, options?: KlingCallOptions): Promise<KlingTask>;
  /** One task by Kling's id; `null` when Kling does not know it. */
  getTask(endpoint: KlingEndpoint, taskId: string, options?: KlingCallOptions): Promise<KlingTask | null>;
  /** One task by our own id; `null` when Kling does not know it. */
  findTaskByExternalId(endpoint: KlingEndpoint, externalTaskId: string, options?: KlingCallOptions): Promise<KlingTask | null>;
  listTasks(endpoint: KlingEndpoint, list?: KlingListOptions, options?: KlingCallOptions): Promise<KlingTask[]>;
  close(): Promise<void>;
}
