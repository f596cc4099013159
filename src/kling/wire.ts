// Kling's snake_case wire format (kling-api.md sections 4, 5, 8 and 13). Only src/kling/ uses these names.
// Parsing is tolerant where real answers vary (§13: `{}`, absent or null in place of an object, extra fields,
// which zod strips) and strict where a misreading would be acted on: ids, timestamps, `task_status`, video URLs.
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

/** Absent or `null`, read as absent, so the parsed type has no nulls to handle. */
function optional<T extends z.ZodType>(schema: T) {
  // The outer optional() keeps the key optional in the parsed type.
  return schema
    .nullish()
    .transform((value) => value ?? undefined)
    .optional();
}

/** Money-like figures are documented as strings ("3.2"); client fixtures also show numbers. */
const wireAmountSchema = z.union([z.string(), z.number()]);

export const wireVideoSchema = z.object({
  // A numeric string since 2025-11, a UUID before (§13).
  id: z.string(),
  // CDN links with their own signed query; kept byte for byte.
  url: z.string(),
  // Only with watermark_info.enabled.
  watermark_url: optional(z.string()),
  // Seconds as a decimal string ("5.1") that differs from the request; a number is read the same way.
  duration: wireAmountSchema,
});

/**
 * The task object: `data` of create and query, each item of the list, and the bare body of a callback.
 * `task_status` stays a plain string here so that an unknown status reaches the client's own check
 * and becomes a protocol error instead of failing the parse with a generic message.
 */
export const wireTaskSchema = z.object({
  task_id: z.string().min(1),
  task_status: z.string(),
  // "" until a failure; absent from the create answer.
  task_status_msg: optional(z.string()),
  // `{}`, absent, or `{external_task_id}`; callbacks may add `parent_video`.
  task_info: optional(z.object({ external_task_id: optional(z.string()), parent_video: z.unknown().optional() })),
  created_at: z.number(),
  updated_at: z.number(),
  // `{}` until success; callbacks also carry `images: []` and `audios: []`, which a video task never fills.
  task_result: optional(z.object({ videos: optional(z.array(wireVideoSchema)) }).loose()),
  // Units charged (2026 docs). A string in the docs; tolerated as a number.
  final_unit_deduction: optional(wireAmountSchema),
  // 2026 docs: `{quota, list_price}` as strings. Not converted, so an odd shape is dropped rather than failing the task.
  final_balance_deduction: optional(z.object({ quota: optional(wireAmountSchema), list_price: optional(wireAmountSchema) })).catch(
    undefined,
  ),
});
export type WireTask = z.infer<typeof wireTaskSchema>;

export const wireEnvelopeSchema = z.object({
  code: z.number().int(),
  // Error bodies have been seen reduced to `{"code":1102}`; the code alone still classifies.
  message: optional(z.string()),
  // A UUID, or base64-like on older answers.
  request_id: optional(z.string()),
  data: z.unknown().optional(),
});
export type WireEnvelope = z.infer<typeof wireEnvelopeSchema>;

/** Paths are the same on every host; only the endpoint segment differs (kling-api.md section 12.1). */
export function taskPath(endpoint: 'text2video' | 'omni-video'): string {
  return `/v1/videos/${endpoint}`;
}
