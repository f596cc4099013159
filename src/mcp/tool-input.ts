// The MCP tools speak the seed tool's vocabulary (snake_case fields, 'kling-v2-master', 'std', '16:9',
// lowercase camera types). This maps it onto the GraphQL-shaped input, so tasks/input.ts stays the one
// place with rules, and maps the rules' answers back into the tools' field names.
import { z } from 'zod';
import {
  CAMERA_AXES,
  CAMERA_MOVEMENTS,
  DEFAULT_ASPECT_RATIO,
  DEFAULT_DURATION_SECONDS,
  DEFAULT_MODE,
  DEFAULT_MODEL,
  MODEL_CAPABILITIES,
  VIDEO_MODELS,
  type CameraAxis,
  type CameraMovement,
  type VideoModel,
} from '../catalog/models.js';
import { formatDurations } from '../catalog/docs.js';
import type { FieldIssue } from '../errors.js';
import { CAMERA_VALUE_LIMIT, IDEMPOTENCY_KEY_MAX_LENGTH, PROMPT_MAX_CODE_POINTS, type GenerateVideoInputRaw } from '../tasks/input.js';
import { KLING_ASPECT_RATIO, KLING_MODE } from '../tasks/kling-mapping.js';

/**
 * The longest a `kling_generate_video` call may wait for its video, in seconds. Beyond this an agent
 * is better served by polling kling_get_video_task than by one HTTP request held open.
 */
export const MAX_WAIT_SECONDS = 600;

const invert = <K extends string, V extends string>(record: Record<K, V>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [v, k])) as Record<V, K>;

export const klingNameOf = (model: VideoModel) => MODEL_CAPABILITIES[model].klingName;
const MODEL_BY_KLING_NAME = Object.fromEntries(VIDEO_MODELS.map((m) => [klingNameOf(m), m])) as Record<string, VideoModel>;
const MODE_BY_KLING_NAME = invert(KLING_MODE);
const ASPECT_RATIO_BY_KLING_NAME = invert(KLING_ASPECT_RATIO);
const CAMERA_BY_KLING_NAME = Object.fromEntries(CAMERA_MOVEMENTS.map((m) => [m.toLowerCase(), m])) as Record<string, CameraMovement>;

const asTuple = (values: string[]) => values as [string, ...string[]];
const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** The models for which `test` holds, by their Kling names; `detail` adds a parenthesised note per model. */
function modelsWhere(test: (model: VideoModel) => boolean, detail?: (model: VideoModel) => string | null): string {
  return VIDEO_MODELS.filter(test)
    .map((m) => {
      const note = detail?.(m);
      return note ? `${klingNameOf(m)} (${note})` : klingNameOf(m);
    })
    .join(', ');
}

/** "kling-v1, …: 5, 10; kling-v3, kling-v3-omni: 3–15", grouped from the capability table. */
function durationsByModel(): string {
  const groups = new Map<string, string[]>();
  for (const model of VIDEO_MODELS) {
    const key = formatDurations(MODEL_CAPABILITIES[model].durationsSeconds);
    groups.set(key, [...(groups.get(key) ?? []), klingNameOf(model)]);
  }
  return [...groups].map(([seconds, models]) => `${models.join(', ')}: ${seconds}`).join('; ');
}

const modeNames = (model: VideoModel, modes: readonly (keyof typeof KLING_MODE)[]) =>
  modes.length === MODEL_CAPABILITIES[model].modes.length ? null : `${modes.map((m) => KLING_MODE[m]).join('/')} only`;

const cameraConfigSchema = z.strictObject(
  Object.fromEntries(CAMERA_AXES.map((axis) => [axis, z.number().optional()])) as Record<CameraAxis, z.ZodOptional<z.ZodNumber>>,
);
const cameraControlSchema = z.strictObject({
  type: z.enum(asTuple(CAMERA_MOVEMENTS.map((m) => m.toLowerCase()))),
  config: cameraConfigSchema.nullish(),
});
type CameraControlArg = z.infer<typeof cameraControlSchema>;

const cameraSupport = modelsWhere(
  (m) => MODEL_CAPABILITIES[m].camera !== null,
  (m) => {
    const camera = MODEL_CAPABILITIES[m].camera;
    return camera ? `${camera.modes.map((mode) => KLING_MODE[mode]).join('/')}, ${camera.durationsSeconds.join('/')} s` : null;
  },
);

/** What kling_estimate_cost takes; kling_generate_video takes these and a few more. */
export const estimateInputShape = {
  prompt: z
    .string()
    .describe(
      `What the video shows: scene, subject, motion, style and mood, 1 to ${PROMPT_MAX_CODE_POINTS} characters. ` +
        "Examples: 'A cat walking through a garden with butterflies', 'Ocean waves crashing on a beach at sunset'.",
    ),
  model: z
    .enum(asTuple(VIDEO_MODELS.map(klingNameOf)))
    .optional()
    .describe(`Kling model. Options: ${quoted(VIDEO_MODELS.map(klingNameOf))}. Default '${klingNameOf(DEFAULT_MODEL)}'.`),
  mode: z
    .enum(asTuple(Object.values(KLING_MODE)))
    .optional()
    .describe(
      `'std' (standard: faster, cheaper) or 'pro' (higher quality, costs more). Default '${KLING_MODE[DEFAULT_MODE]}'. ` +
        `Only 'std' on: ${modelsWhere((m) => !MODEL_CAPABILITIES[m].modes.includes('PROFESSIONAL'))}.`,
    ),
  aspect_ratio: z
    .enum(asTuple(Object.values(KLING_ASPECT_RATIO)))
    .optional()
    .describe(`'16:9' (landscape), '9:16' (portrait) or '1:1' (square). Default '${KLING_ASPECT_RATIO[DEFAULT_ASPECT_RATIO]}'.`),
  duration: z
    .number()
    .int()
    .optional()
    .describe(`Video length in seconds. Default ${DEFAULT_DURATION_SECONDS}. ${durationsByModel()}. Longer costs more.`),
  generate_audio: z
    .boolean()
    .optional()
    .describe(
      `Generate a soundtrack with the video; costs more. Default false. Only on: ${modelsWhere(
        (m) => MODEL_CAPABILITIES[m].audioModes.length > 0,
        (m) => modeNames(m, MODEL_CAPABILITIES[m].audioModes),
      )}.`,
    ),
  negative_prompt: z
    .string()
    .optional()
    .describe(`What to keep out of the video, up to ${PROMPT_MAX_CODE_POINTS} characters. Example: 'blurry, low quality, distorted faces'.`),
  cfg_scale: z
    .number()
    .optional()
    .describe(`How strictly to follow the prompt, 0 to 1. Only on: ${modelsWhere((m) => MODEL_CAPABILITIES[m].cfgScale)}.`),
  camera_control: z
    .union([z.string(), cameraControlSchema])
    .optional()
    .describe(
      'Camera movement, as an object or as the same object in a JSON string, e.g. ' +
        '{"type": "simple", "config": {"horizontal": 5}}. ' +
        `'simple' takes a config with exactly one non-zero value among ${CAMERA_AXES.join(', ')} ` +
        `(each -${CAMERA_VALUE_LIMIT} to ${CAMERA_VALUE_LIMIT}); ` +
        `the presets ${quoted(CAMERA_MOVEMENTS.filter((m) => m !== 'SIMPLE').map((m) => m.toLowerCase()))} take no config. ` +
        `Only on: ${cameraSupport}.`,
    ),
};

export const generateInputShape = {
  ...estimateInputShape,
  callback_url: z
    .string()
    .optional()
    .describe('http(s) URL that receives a signed POST when the task finishes (succeeded, failed, canceled or timed out).'),
  idempotency_key: z
    .string()
    .optional()
    .describe(
      `Up to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters. Calling again with the same key and the same input returns the same task ` +
        'and never charges twice; the same key with a different input is refused. Use it when retrying after a lost answer.',
    ),
  timeout: z
    .number()
    .min(0)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(
      `Seconds to wait for the video before answering, 0 to ${MAX_WAIT_SECONDS}. Default 0: answer right after submitting. ` +
        'If the video is not ready by then the answer has the current state; call kling_get_video_task with its task_id later.',
    ),
};

export type EstimateArgs = z.infer<z.ZodObject<typeof estimateInputShape>>;
export type GenerateArgs = z.infer<z.ZodObject<typeof generateInputShape>>;

/** A problem with one tool argument, named as the tool names it (`duration`, `camera_control.config`). */
export interface ToolIssue {
  field: string;
  message: string;
}

export type MappedInput = { ok: true; raw: GenerateVideoInputRaw } | { ok: false; issues: ToolIssue[] };

/** Maps tool arguments onto the GraphQL-shaped input; only a camera_control string that is not a camera object fails here. */
export function toGenerateInputRaw(args: EstimateArgs & Partial<Pick<GenerateArgs, 'callback_url' | 'idempotency_key'>>): MappedInput {
  const camera = loadCameraControl(args.camera_control);
  if (!camera.ok) return camera;
  return {
    ok: true,
    raw: {
      prompt: args.prompt,
      negativePrompt: args.negative_prompt,
      // The enums above admit only names these maps hold.
      model: args.model === undefined ? undefined : MODEL_BY_KLING_NAME[args.model],
      mode: args.mode === undefined ? undefined : MODE_BY_KLING_NAME[args.mode as 'std' | 'pro'],
      aspectRatio: args.aspect_ratio === undefined ? undefined : ASPECT_RATIO_BY_KLING_NAME[args.aspect_ratio as '16:9'],
      durationSeconds: args.duration,
      cfgScale: args.cfg_scale,
      cameraControl: camera.value,
      generateAudio: args.generate_audio,
      webhookUrl: args.callback_url,
      idempotencyKey: args.idempotency_key,
    },
  };
}

function loadCameraControl(
  value: EstimateArgs['camera_control'],
): { ok: true; value: GenerateVideoInputRaw['cameraControl'] } | { ok: false; issues: ToolIssue[] } {
  if (value === undefined) return { ok: true, value: undefined };
  let camera: CameraControlArg;
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return { ok: false, issues: [{ field: 'camera_control', message: 'camera_control is not valid JSON.' }] };
    }
    const result = cameraControlSchema.safeParse(parsed);
    if (!result.success) {
      return {
        ok: false,
        issues: result.error.issues.map((issue) => ({
          field: ['camera_control', ...issue.path.map(String)].join('.'),
          message: issue.message,
        })),
      };
    }
    camera = result.data;
  } else {
    camera = value;
  }
  // The enum above admits only the lowercase names of CAMERA_MOVEMENTS.
  return { ok: true, value: { type: CAMERA_BY_KLING_NAME[camera.type] as CameraMovement, config: camera.config } };
}

const FIELD_NAMES: Record<keyof GenerateVideoInputRaw, string> = {
  prompt: 'prompt',
  negativePrompt: 'negative_prompt',
  model: 'model',
  mode: 'mode',
  aspectRatio: 'aspect_ratio',
  durationSeconds: 'duration',
  cfgScale: 'cfg_scale',
  cameraControl: 'camera_control',
  generateAudio: 'generate_audio',
  webhookUrl: 'callback_url',
  idempotencyKey: 'idempotency_key',
};

// The rules' messages name fields and values as GraphQL does ("KLING_V2_MASTER takes durationSeconds
// 5, 10."); an agent using these tools should read the names it can pass back.
const VOCABULARY: Record<string, string> = {
  ...FIELD_NAMES,
  ...Object.fromEntries(VIDEO_MODELS.map((m) => [m, klingNameOf(m)])),
  ...KLING_MODE,
  ...KLING_ASPECT_RATIO,
  ...invert(CAMERA_BY_KLING_NAME),
};
const GRAPHQL_WORDS = new RegExp(`\\b(${Object.keys(VOCABULARY).join('|')})\\b`, 'g');

/** Rewrites GraphQL field and enum names in a message into the tools' names. */
export function inToolTerms(message: string): string {
  return message.replace(GRAPHQL_WORDS, (word) => VOCABULARY[word] ?? word);
}

/** The rules' issues, with paths and messages in the tools' names. */
export function toToolIssues(issues: readonly FieldIssue[]): ToolIssue[] {
  return issues.map(({ path, message }) => {
    const [first = '', ...rest] = path;
    const head = Object.hasOwn(FIELD_NAMES, first) ? FIELD_NAMES[first as keyof GenerateVideoInputRaw] : first;
    const field = [head, ...rest].join('.');
    return { field, message: inToolTerms(message) };
  });
}
