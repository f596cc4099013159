// Kling's snake_case wire format (kling-api.md sections 4, 5 and 8). Only src/kling/ uses these names.
import { z } from 'zod';
import type { KLING_CAMERA_TYPES } from './types.js';

export const wireCameraConfigSchema = z.object({
  horizontal: z.number().optional(),
  vertical: z.number().optional(),
  pan: z.number().optional(),
  tilt: z.number().optional(),
  roll: z.number().optional(),
  zoom: z.number().optional(),
});

/** Body of `POST /v1/videos/text2video` and `/v1/videos/omni-video`, as Kling reads it. */
export interface WireCreateTaskBody {
  model_name?: string;
  prompt?: string;
  negative_prompt?: string;
  cfg_scale?: number;
  mode?: string;
  aspect_ratio?: string;
  duration?: string;
  camera_control?: { type: (typeof KLING_CAMERA_TYPES)[number]; config?: z.infer<typeof wireCameraConfigSchema> };
  sound?: 'on' | 'off';
  callback_url?: string;
  external_task_id?: string;
}

export const wireVideoSchema = z.object({
  id: z.string(),
  url: z.string(),
  watermark_url: z.string().optional(),
  duration: z.string(),
});

/**
 * The task object: `data` of create and query, each item of the list, and the bare body of a callback.
 * `task_status` stays a plain string here so that an unknown status reaches the client's own check
 * and becomes a protocol error instead of failing the parse with a generic message.
 */
export const wireTaskSchema = z.object({
  task_id: z.string(),
  task_status: z.string(),
  task_status_msg: z.string().optional(),
  task_info: z
    .object({ external_task_id: z.string().optional(), parent_video: z.unknown().optional() })
    .partial()
    .optional(),
  created_at: z.number(),
  updated_at: z.number(),
  task_result: z
    .object({ videos: z.array(wireVideoSchema).optional() })
    .loose()
    .optional(),
  final_unit_deduction: z.string().optional(),
});
export type WireTask = z.infer<typeof wireTaskSchema>;

export const wireEnvelopeSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  request_id: z.string().optional(),
  data: z.unknown().optional(),
});
export type WireEnvelope = z.infer<typeof wireEnvelopeSchema>;

/** Paths are the same on every host; only the endpoint segment differs (kling-api.md section 12.1). */
export function taskPath(endpoint: 'text2video' | 'omni-video'): string {
  return `/v1/videos/${endpoint}`;
}
