// What Kling accepts on create (kling-api.md sections 4, 4.1, 4.2 and 12.4), in Kling's own terms.
// The simulator stands in for an external system, so this table is deliberately separate from the
// gateway's own input rules: when the two disagree, a test against the simulator shows it.
import { KLING_CAMERA_TYPES, type KlingEndpoint } from '../types.js';

const FIVE_OR_TEN = ['5', '10'] as const;
const THREE_TO_FIFTEEN = ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15'] as const;
const ASPECT_RATIOS = ['16:9', '9:16', '1:1'] as const;
const CAMERA_AXES = ['horizontal', 'vertical', 'pan', 'tilt', 'roll', 'zoom'] as const;

/** Kling's prompt limit since 2024-09-19, counted in characters (Unicode code points here). */
export const MAX_PROMPT_CHARS = 2500;
const MAX_SHOT_PROMPT_CHARS = 512;
const MAX_SHOTS = 6;

export interface ModelRules {
  endpoint: KlingEndpoint;
  /** Accepted `mode` values; empty for models that take no mode and ignore the field. */
  modes: readonly string[];
  durations: readonly string[];
  /** Modes in which `sound: "on"` is allowed ('' stands for "any", for models without modes). */
  soundModes: readonly string[];
  /** The mode/duration pairs that support camera_control; empty when the model has none. */
  camera: readonly { mode: string; duration: string }[];
  multiShot: boolean;
  /**
   * Units charged per second of video, keyed by mode (with `+sound` for sound on; '' for models
   * without modes). Clip prices from kling-api.md section 9 divided by their length; the two omni
   * models have no published price, so they borrow kling-v3's (a simulator setting, not a fact).
   */
  unitsPerSecond: Readonly<Record<string, number>>;
}

export const MODEL_RULES: Readonly<Record<string, ModelRules>> = {
  'kling-v1': {
    endpoint: 'text2video',
    modes: ['std', 'pro'],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [{ mode: 'std', duration: '5' }],
    multiShot: false,
    unitsPerSecond: { std: 0.2, pro: 0.7 },
  },
  'kling-v1-6': {
    endpoint: 'text2video',
    modes: ['std', 'pro'],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [],
    multiShot: false,
    unitsPerSecond: { std: 0.4, pro: 0.7 },
  },
  'kling-v2-master': {
    endpoint: 'text2video',
    modes: [],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [],
    multiShot: false,
    unitsPerSecond: { '': 2 },
  },
  'kling-v2-1-master': {
    endpoint: 'text2video',
    modes: [],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [],
    multiShot: false,
    unitsPerSecond: { '': 2 },
  },
  'kling-v2-5-turbo': {
    endpoint: 'text2video',
    modes: ['std', 'pro'],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [],
    multiShot: false,
    unitsPerSecond: { std: 0.3, pro: 0.5 },
  },
  'kling-v2-6': {
    endpoint: 'text2video',
    modes: ['std', 'pro'],
    durations: FIVE_OR_TEN,
    soundModes: ['pro'],
    camera: [],
    multiShot: false,
    unitsPerSecond: { std: 0.3, pro: 0.5, 'pro+sound': 1 },
  },
  'kling-v3': {
    endpoint: 'text2video',
    modes: ['std', 'pro', '4k'],
    durations: THREE_TO_FIFTEEN,
    soundModes: ['std', 'pro', '4k'],
    camera: [],
    multiShot: true,
    unitsPerSecond: { std: 0.6, 'std+sound': 0.9, pro: 0.8, 'pro+sound': 1.2, '4k': 3, '4k+sound': 3 },
  },
  'kling-v3-omni': {
    endpoint: 'omni-video',
    modes: ['std', 'pro'],
    durations: THREE_TO_FIFTEEN,
    soundModes: ['std', 'pro'],
    camera: [],
    multiShot: false,
    unitsPerSecond: { std: 0.6, 'std+sound': 0.9, pro: 0.8, 'pro+sound': 1.2 },
  },
  'kling-video-o1': {
    endpoint: 'omni-video',
    modes: ['std', 'pro'],
    durations: FIVE_OR_TEN,
    soundModes: [],
    camera: [],
    multiShot: false,
    unitsPerSecond: { std: 0.6, pro: 0.8 },
  },
};

/** Kling's default model on text2video; omni-video has no documented default, so its first model stands in. */
export const DEFAULT_MODEL: Readonly<Record<KlingEndpoint, string>> = {
  text2video: 'kling-v1',
  'omni-video': 'kling-video-o1',
};

/** What happens to camera_control or sound "on" where the model does not support them (kling-api.md section 4). */
export type UnsupportedOptionPolicy = 'reject' | 'ignore';

export interface AcceptedCreate {
  modelName: string;
  /** Undefined for models that take no mode. */
  mode: string | undefined;
  prompt: string;
  negativePrompt: string | undefined;
  aspectRatio: string;
  durationSeconds: number;
  cfgScale: number | undefined;
  sound: 'on' | 'off';
  cameraControl: { type: string; config?: Record<string, number> } | undefined;
  callbackUrl: string | undefined;
  externalTaskId: string | undefined;
  watermark: boolean;
  /** What Kling would deduct on success (kling-api.md section 9). */
  units: number;
}

export type CreateCheck =
  | { ok: true; value: AcceptedCreate }
  | { ok: false; code: 1200 | 1201 | 1203; message: string };

const fail = (code: 1200 | 1201 | 1203, message: string): CreateCheck => ({ ok: false, code, message });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Code points, not UTF-16 units: an emoji is one character to Kling's limit. */
export function countChars(text: string): number {
  let count = 0;
  for (const _char of text) count++;
  return count;
}

function quoteList(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(', ');
}

function checkText(body: Record<string, unknown>, field: string, required: boolean): string | CreateCheck | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    return required ? fail(1201, `${field} is required`) : undefined;
  }
  if (typeof value !== 'string') return fail(1201, `${field} must be a string`);
  if (required && value.trim() === '') return fail(1201, `${field} must not be empty`);
  if (countChars(value) > MAX_PROMPT_CHARS) {
    return fail(1201, `${field} must be at most ${MAX_PROMPT_CHARS} characters`);
  }
  return value;
}

function checkCallbackUrl(value: unknown): string | CreateCheck | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return fail(1201, 'callback_url must be a string');
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // falls through to the same answer as a non-http URL
  }
  return fail(1201, 'callback_url must be an http or https URL');
}

function checkCamera(value: unknown): AcceptedCreate['cameraControl'] | CreateCheck {
  if (!isRecord(value)) return fail(1201, 'camera_control must be an object');
  const type = value.type;
  if (typeof type !== 'string' || !(KLING_CAMERA_TYPES as readonly string[]).includes(type)) {
    return fail(1201, `camera_control.type must be one of ${quoteList(KLING_CAMERA_TYPES)}`);
  }
  const config = value.config;
  if (type !== 'simple') {
    if (config === undefined || config === null || (isRecord(config) && Object.keys(config).length === 0)) {
      return { type };
    }
    return fail(1201, `camera_control.config must be empty for type "${type}"`);
  }
  if (!isRecord(config)) return fail(1201, 'camera_control.config is required for type "simple"');
  const axes: Record<string, number> = {};
  let nonZero = 0;
  for (const axis of CAMERA_AXES) {
    const raw = config[axis] ?? 0;
    if (typeof raw !== 'number' || !Number.isFinite(raw)) return fail(1201, `camera_control.config.${axis} must be a number`);
    if (raw < -10 || raw > 10) return fail(1201, `camera_control.config.${axis} must be between -10 and 10`);
    if (raw !== 0) nonZero++;
    axes[axis] = raw;
  }
  if (nonZero !== 1) {
    return fail(1201, `camera_control.config must set exactly one of ${CAMERA_AXES.join(', ')} to a non-zero value`);
  }
  return { type, config: axes };
}

interface MultiShot {
  customize: boolean;
}

function checkMultiShot(body: Record<string, unknown>, rules: ModelRules, modelName: string, duration: string): MultiShot | CreateCheck | undefined {
  const multiShot = body.multi_shot;
  if (multiShot === undefined || multiShot === null || multiShot === false) return undefined;
  if (multiShot !== true) return fail(1201, 'multi_shot must be a boolean');
  if (!rules.multiShot) return fail(1201, `multi_shot is not supported by ${modelName}`);
  const shotType = body.shot_type;
  if (shotType !== 'customize' && shotType !== 'intelligence') {
    return fail(1201, 'shot_type must be "customize" or "intelligence" when multi_shot is true');
  }
  if (shotType === 'intelligence') return { customize: false };
  const shots = body.multi_prompt;
  if (!Array.isArray(shots) || shots.length < 1 || shots.length > MAX_SHOTS) {
    return fail(1201, `multi_prompt must hold 1 to ${MAX_SHOTS} shots when shot_type is "customize"`);
  }
  let total = 0;
  for (const [index, shot] of shots.entries()) {
    if (!isRecord(shot)) return fail(1201, `multi_prompt[${index}] must be an object`);
    if (typeof shot.prompt !== 'string' || shot.prompt.trim() === '') {
      return fail(1201, `multi_prompt[${index}].prompt is required`);
    }
    if (countChars(shot.prompt) > MAX_SHOT_PROMPT_CHARS) {
      return fail(1201, `multi_prompt[${index}].prompt must be at most ${MAX_SHOT_PROMPT_CHARS} characters`);
    }
    const seconds = Number(shot.duration);
    if (!Number.isInteger(seconds) || seconds < 1) return fail(1201, `multi_prompt[${index}].duration must be at least 1 second`);
    total += seconds;
  }
  if (total !== Number(duration)) return fail(1201, `multi_prompt durations must add up to duration ${duration}`);
  return { customize: true };
}

/**
 * Checks a create body the way Kling does and returns the accepted request with defaults applied,
 * or Kling's code (1200 body, 1201 parameter, 1203 unknown model) with a message naming the field.
 */
export function checkCreateBody(endpoint: KlingEndpoint, body: unknown, policy: UnsupportedOptionPolicy = 'reject'): CreateCheck {
  if (!isRecord(body)) return fail(1200, 'request body must be a JSON object');

  // The deprecated `model` alias is accepted but ignored, exactly as if model_name were empty.
  const rawModel = body.model_name;
  if (rawModel !== undefined && rawModel !== null && typeof rawModel !== 'string') return fail(1201, 'model_name must be a string');
  const modelName = rawModel === undefined || rawModel === null || rawModel === '' ? DEFAULT_MODEL[endpoint] : rawModel;
  const rules = MODEL_RULES[modelName];
  if (rules?.endpoint !== endpoint) return fail(1203, `model_name "${modelName}" does not exist on ${endpoint}`);

  let mode: string | undefined;
  if (rules.modes.length > 0) {
    const rawMode = body.mode ?? 'std';
    if (typeof rawMode !== 'string' || !rules.modes.includes(rawMode)) {
      return fail(1201, `mode must be one of ${quoteList(rules.modes)} for ${modelName}`);
    }
    mode = rawMode;
  }

  const aspectRatio = body.aspect_ratio ?? '16:9';
  if (typeof aspectRatio !== 'string' || !(ASPECT_RATIOS as readonly string[]).includes(aspectRatio)) {
    return fail(1201, `aspect_ratio must be one of ${quoteList(ASPECT_RATIOS)}`);
  }

  // Kling documents duration as a string; a number here is a client bug worth surfacing.
  const duration = body.duration ?? '5';
  if (typeof duration !== 'string') return fail(1201, 'duration must be a string such as "5"');
  if (!rules.durations.includes(duration)) {
    return fail(1201, `duration "${duration}" is not supported by ${modelName}; use one of ${quoteList(rules.durations)}`);
  }

  const multiShot = checkMultiShot(body, rules, modelName, duration);
  if (multiShot !== undefined && 'ok' in multiShot) return multiShot;

  const prompt = checkText(body, 'prompt', multiShot?.customize !== true);
  if (typeof prompt === 'object') return prompt;
  const negativePrompt = checkText(body, 'negative_prompt', false);
  if (typeof negativePrompt === 'object') return negativePrompt;

  let cfgScale: number | undefined;
  const rawCfgScale = body.cfg_scale;
  if (rawCfgScale !== undefined && rawCfgScale !== null) {
    if (typeof rawCfgScale !== 'number' || !Number.isFinite(rawCfgScale) || rawCfgScale < 0 || rawCfgScale > 1) {
      return fail(1201, 'cfg_scale must be a number between 0 and 1');
    }
    cfgScale = rawCfgScale;
  }

  let cameraControl: AcceptedCreate['cameraControl'];
  if (body.camera_control !== undefined && body.camera_control !== null) {
    const camera = checkCamera(body.camera_control);
    if (camera !== undefined && 'ok' in camera) return camera;
    const supported = rules.camera.some((entry) => entry.mode === (mode ?? '') && entry.duration === duration);
    if (supported) cameraControl = camera;
    else if (policy === 'reject') {
      return fail(1201, `camera_control is not supported by ${modelName} in mode ${mode ?? '(none)'} for ${duration}s`);
    }
  }

  const rawSound = body.sound ?? 'off';
  if (rawSound !== 'on' && rawSound !== 'off') return fail(1201, 'sound must be "on" or "off"');
  let sound: 'on' | 'off' = rawSound;
  if (sound === 'on' && !rules.soundModes.includes(mode ?? '')) {
    if (policy === 'reject') return fail(1201, `sound "on" is not supported by ${modelName} in mode ${mode ?? '(none)'}`);
    sound = 'off';
  }

  let watermark = false;
  const watermarkInfo = body.watermark_info;
  if (watermarkInfo !== undefined && watermarkInfo !== null) {
    if (!isRecord(watermarkInfo) || (watermarkInfo.enabled !== undefined && typeof watermarkInfo.enabled !== 'boolean')) {
      return fail(1201, 'watermark_info must be an object like {"enabled": true}');
    }
    watermark = watermarkInfo.enabled === true;
  }

  const callbackUrl = checkCallbackUrl(body.callback_url);
  if (typeof callbackUrl === 'object') return callbackUrl;

  let externalTaskId: string | undefined;
  const rawExternalId = body.external_task_id;
  if (rawExternalId !== undefined && rawExternalId !== null) {
    if (typeof rawExternalId !== 'string' || rawExternalId === '') return fail(1201, 'external_task_id must be a non-empty string');
    externalTaskId = rawExternalId;
  }

  const durationSeconds = Number(duration);
  return {
    ok: true,
    value: {
      modelName,
      mode,
      prompt: prompt ?? '',
      negativePrompt,
      aspectRatio,
      durationSeconds,
      cfgScale,
      sound,
      cameraControl,
      callbackUrl,
      externalTaskId,
      watermark,
      units: unitsFor(rules, mode, durationSeconds, sound),
    },
  };
}

function unitsFor(rules: ModelRules, mode: string | undefined, durationSeconds: number, sound: 'on' | 'off'): number {
  const modeKey = mode ?? '';
  const perSecond = (sound === 'on' ? rules.unitsPerSecond[`${modeKey}+sound`] : undefined) ?? rules.unitsPerSecond[modeKey] ?? 0;
  // Rounded to cents of a unit so 0.6 × 3 reads "1.8", not "1.7999999999999998".
  return Math.round(perSecond * durationSeconds * 100) / 100;
}
