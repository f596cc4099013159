// Rules for a generate request, shared by the GraphQL schema (through the Pothos validation plugin),
// cost estimates and the MCP tool. Every rule reads the capability table; none is spelled out per model.
import { createHash } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  CAMERA_AXES,
  DEFAULT_ASPECT_RATIO,
  DEFAULT_DURATION_SECONDS,
  DEFAULT_MODE,
  DEFAULT_MODEL,
  MODEL_CAPABILITIES,
  type AspectRatio,
  type CameraAxis,
  type CameraMovement,
  type VideoMode,
  type VideoModel,
} from '../catalog/models.js';
import type { FieldIssue } from '../errors.js';
import { DEFAULT_WEBHOOK_TARGETS, webhookUrlRefusal, type WebhookTargetPolicy } from '../webhooks/webhook-target.js';

export const PROMPT_MAX_CODE_POINTS = 2500;
export const WEBHOOK_URL_MAX_LENGTH = 2048;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const CAMERA_VALUE_LIMIT = 10;

export type CameraConfig = Record<CameraAxis, number>;

/** The input as GraphQL hands it over: optional fields may be null or absent. */
export interface GenerateVideoInputRaw {
  prompt: string;
  negativePrompt?: string | null | undefined;
  model?: VideoModel | null | undefined;
  mode?: VideoMode | null | undefined;
  aspectRatio?: AspectRatio | null | undefined;
  durationSeconds?: number | null | undefined;
  cfgScale?: number | null | undefined;
  cameraControl?:
    | { type: CameraMovement; config?: Partial<Record<CameraAxis, number | null | undefined>> | null | undefined }
    | null
    | undefined;
  generateAudio?: boolean | null | undefined;
  webhookUrl?: string | null | undefined;
  idempotencyKey?: string | null | undefined;
}

/** A request that passed every rule, with defaults applied and the prompt trimmed. */
export interface GenerateRequest {
  prompt: string;
  negativePrompt: string | null;
  model: VideoModel;
  mode: VideoMode;
  aspectRatio: AspectRatio;
  durationSeconds: number;
  cfgScale: number | null;
  cameraControl: { type: CameraMovement; config: CameraConfig | null } | null;
  generateAudio: boolean;
  webhookUrl: string | null;
  idempotencyKey: string | null;
}

export type CheckResult = { ok: true; value: GenerateRequest } | { ok: false; issues: FieldIssue[] };

// The contract counts Unicode code points, which is exactly what string iteration yields.
// eslint-disable-next-line @typescript-eslint/no-misused-spread
const codePoints = (s: string) => [...s].length;
/** Code points never outnumber UTF-16 units, so the cheap length settles most strings. */
const longerThan = (s: string, max: number) => s.length > max && codePoints(s) > max;
const list = (values: readonly (string | number)[]) => values.join(', ');
// An unpaired UTF-16 surrogate is no character: UTF-8 (SQLite, PostgreSQL, Kling's JSON) cannot carry it
// unchanged, so it would be stored and sent as something other than what was validated. NUL is refused
// too: PostgreSQL text cannot hold it.
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const LONE_SURROGATE = /\p{Surrogate}|\u0000/u;
const notText = (field: string) => `${field} must be valid Unicode text without NUL characters or unpaired surrogates.`;

/**
 * `webhookTargets` is the gateway's policy for webhook receivers (config.webhooks.targets); the default
 * refuses every private, local or non-default-port target, as a gateway without an allow-list does.
 */
export function checkGenerateInput(raw: GenerateVideoInputRaw, webhookTargets: WebhookTargetPolicy = DEFAULT_WEBHOOK_TARGETS): CheckResult {
  const issues: FieldIssue[] = [];
  const issue = (path: string[], message: string) => issues.push({ path, message });

  const prompt = raw.prompt.trim();
  if (prompt.length === 0) issue(['prompt'], 'The prompt must not be empty.');
  else if (codePoints(prompt) > PROMPT_MAX_CODE_POINTS)
    issue(['prompt'], `The prompt must be at most ${PROMPT_MAX_CODE_POINTS} characters (after trimming).`);
  else if (LONE_SURROGATE.test(prompt)) issue(['prompt'], notText('The prompt'));

  const negativePrompt = raw.negativePrompt?.trim() || null;
  if (negativePrompt && codePoints(negativePrompt) > PROMPT_MAX_CODE_POINTS)
    issue(['negativePrompt'], `The negative prompt must be at most ${PROMPT_MAX_CODE_POINTS} characters.`);
  else if (negativePrompt && LONE_SURROGATE.test(negativePrompt)) issue(['negativePrompt'], notText('The negative prompt'));

  const model = raw.model ?? DEFAULT_MODEL;
  const caps = MODEL_CAPABILITIES[model];
  const mode = raw.mode ?? DEFAULT_MODE;
  if (!caps.modes.includes(mode)) issue(['mode'], `${model} takes mode ${list(caps.modes)}.`);

  const durationSeconds = raw.durationSeconds ?? DEFAULT_DURATION_SECONDS;
  if (!caps.durationsSeconds.includes(durationSeconds))
    issue(['durationSeconds'], `${model} takes durationSeconds ${describeDurations(caps.durationsSeconds)}.`);

  const cfgScale = raw.cfgScale ?? null;
  if (cfgScale !== null) {
    if (!caps.cfgScale) issue(['cfgScale'], `${model} does not support cfgScale.`);
    else if (!(cfgScale >= 0 && cfgScale <= 1)) issue(['cfgScale'], 'cfgScale must be between 0 and 1.');
  }

  const generateAudio = raw.generateAudio ?? false;
  if (generateAudio && !caps.audioModes.includes(mode))
    issue(
      ['generateAudio'],
      caps.audioModes.length === 0
        ? `${model} cannot generate audio.`
        : `${model} generates audio only in mode ${list(caps.audioModes)}.`,
    );

  const cameraControl = checkCamera(raw.cameraControl, model, mode, durationSeconds, issue);

  const webhookUrl = raw.webhookUrl?.trim() || null;
  if (webhookUrl !== null && (!isHttpUrl(webhookUrl) || LONE_SURROGATE.test(webhookUrl)))
    issue(['webhookUrl'], `webhookUrl must be an absolute http(s) URL of at most ${WEBHOOK_URL_MAX_LENGTH} characters.`);
  else if (webhookUrl !== null) {
    // Loopback, private, link-local and metadata addresses, local names, userinfo, odd ports (SSRF).
    const refusal = webhookUrlRefusal(webhookUrl, webhookTargets);
    if (refusal !== null) issue(['webhookUrl'], refusal);
  }

  const idempotencyKey = raw.idempotencyKey ?? null;
  if (idempotencyKey !== null && (idempotencyKey.length === 0 || longerThan(idempotencyKey, IDEMPOTENCY_KEY_MAX_LENGTH)))
    issue(['idempotencyKey'], `idempotencyKey must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`);
  else if (idempotencyKey !== null && LONE_SURROGATE.test(idempotencyKey)) issue(['idempotencyKey'], notText('idempotencyKey'));

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    value: {
      prompt,
      negativePrompt,
      model,
      mode,
      aspectRatio: raw.aspectRatio ?? DEFAULT_ASPECT_RATIO,
      durationSeconds,
      cfgScale,
      cameraControl,
      generateAudio,
      webhookUrl,
      idempotencyKey,
    },
  };
}

function checkCamera(
  raw: GenerateVideoInputRaw['cameraControl'],
  model: VideoModel,
  mode: VideoMode,
  durationSeconds: number,
  issue: (path: string[], message: string) => void,
): GenerateRequest['cameraControl'] {
  if (!raw) return null;
  const camera = MODEL_CAPABILITIES[model].camera;
  if (!camera) {
    issue(['cameraControl'], `${model} does not support camera control.`);
    return null;
  }
  if (!camera.modes.includes(mode) || !camera.durationsSeconds.includes(durationSeconds)) {
    issue(
      ['cameraControl'],
      `${model} supports camera control only in mode ${list(camera.modes)} at ${list(camera.durationsSeconds)} s.`,
    );
  }
  const rawConfig = raw.config ?? null;
  if (raw.type !== 'SIMPLE') {
    if (rawConfig !== null && Object.values(rawConfig).some((v) => typeof v === 'number'))
      issue(['cameraControl', 'config'], `Camera movement ${raw.type} is a preset and takes no config.`);
    return { type: raw.type, config: null };
  }
  if (rawConfig === null) {
    issue(['cameraControl', 'config'], 'Camera movement SIMPLE needs a config with exactly one non-zero value.');
    return null;
  }
  const config = Object.fromEntries(CAMERA_AXES.map((axis) => [axis, rawConfig[axis] ?? 0])) as CameraConfig;
  let inRange = true;
  for (const axis of CAMERA_AXES) {
    if (!(Math.abs(config[axis]) <= CAMERA_VALUE_LIMIT)) {
      inRange = false;
      issue(['cameraControl', 'config', axis], `${axis} must be between -${CAMERA_VALUE_LIMIT} and ${CAMERA_VALUE_LIMIT}.`);
    }
  }
  const nonZero = CAMERA_AXES.filter((axis) => config[axis] !== 0).length;
  if (inRange && nonZero !== 1)
    issue(['cameraControl', 'config'], `Camera movement SIMPLE needs exactly one non-zero value; got ${nonZero}.`);
  return { type: 'SIMPLE', config };
}

function describeDurations(durations: readonly number[]): string {
  const first = durations[0];
  const last = durations[durations.length - 1];
  const contiguous = durations.every((d, i) => i === 0 || d === (durations[i - 1] ?? 0) + 1);
  return contiguous && durations.length > 2 && first !== undefined && last !== undefined
    ? `${first} to ${last}`
    : list(durations);
}

function isHttpUrl(value: string): boolean {
  if (longerThan(value, WEBHOOK_URL_MAX_LENGTH)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The rules as a Standard Schema, with the default webhook target policy. The GraphQL fields check
 * their input in the resolver instead (schema/generate-video.ts), since the gateway's policy comes from
 * its config and a Standard Schema cannot see the request's context.
 * Paths are relative to the input object, as the contract's FieldIssue.path is.
 */
export const generateVideoInputSchema: StandardSchemaV1<GenerateVideoInputRaw, GenerateRequest> = {
  '~standard': {
    version: 1,
    vendor: 'kling-gateway',
    validate: (value) => {
      const result = checkGenerateInput(value as GenerateVideoInputRaw);
      return result.ok ? { value: result.value } : { issues: result.issues };
    },
  },
};

/** Identifies "the same input" for idempotency: the normalised request without its key. */
export function fingerprintOf(request: GenerateRequest): string {
  const { idempotencyKey: _ignored, ...rest } = request;
  // checkGenerateInput builds every field, nested ones included, in a fixed order, so this is canonical.
  return createHash('sha256').update(JSON.stringify(rest)).digest('base64url');
}
