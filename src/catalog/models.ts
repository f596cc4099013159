// The one model-capability table (kling-api.md section 4.1). It drives input validation,
// the `models` query, the README table and the mapping onto Kling's wire names.
import type { KlingEndpoint } from '../kling/types.js';

export const VIDEO_MODELS = [
  'KLING_V1',
  'KLING_V1_6',
  'KLING_V2_MASTER',
  'KLING_V2_1_MASTER',
  'KLING_V2_5_TURBO',
  'KLING_V2_6',
  'KLING_V3',
  'KLING_V3_OMNI',
  'KLING_VIDEO_O1',
] as const;
export type VideoModel = (typeof VIDEO_MODELS)[number];

export const VIDEO_MODES = ['STANDARD', 'PROFESSIONAL'] as const;
export type VideoMode = (typeof VIDEO_MODES)[number];

export const ASPECT_RATIOS = ['RATIO_16_9', 'RATIO_9_16', 'RATIO_1_1'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

export const CAMERA_MOVEMENTS = ['SIMPLE', 'DOWN_BACK', 'FORWARD_UP', 'RIGHT_TURN_FORWARD', 'LEFT_TURN_FORWARD'] as const;
export type CameraMovement = (typeof CAMERA_MOVEMENTS)[number];

export const CAMERA_AXES = ['horizontal', 'vertical', 'pan', 'tilt', 'roll', 'zoom'] as const;
export type CameraAxis = (typeof CAMERA_AXES)[number];

export interface ModelCapabilities {
  model: VideoModel;
  /** Kling's `model_name`. */
  klingName: string;
  /** Which Kling endpoint takes this model; the gateway hides the difference. */
  endpoint: KlingEndpoint;
  modes: readonly VideoMode[];
  durationsSeconds: readonly number[];
  /** Modes in which `generateAudio: true` is accepted; empty = no audio. */
  audioModes: readonly VideoMode[];
  /** Where camera control is accepted; null = nowhere. */
  camera: { modes: readonly VideoMode[]; durationsSeconds: readonly number[] } | null;
  /** Kling documents cfg_scale as unsupported on the v2.x family and says nothing for the v3/omni models. */
  cfgScale: boolean;
  /** False where Kling takes no `mode` parameter (the v2 master models), so we do not send one. */
  sendsMode: boolean;
  note: string;
}

const BOTH_MODES = ['STANDARD', 'PROFESSIONAL'] as const satisfies readonly VideoMode[];
const FIVE_OR_TEN = [5, 10] as const;
const THREE_TO_FIFTEEN = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] as const;

export const MODEL_CAPABILITIES: Readonly<Record<VideoModel, ModelCapabilities>> = {
  KLING_V1: {
    model: 'KLING_V1',
    klingName: 'kling-v1',
    endpoint: 'text2video',
    modes: BOTH_MODES,
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: { modes: ['STANDARD'], durationsSeconds: [5] },
    cfgScale: true,
    sendsMode: true,
    note: '720p, 30 fps; camera control in standard 5 s only',
  },
  KLING_V1_6: {
    model: 'KLING_V1_6',
    klingName: 'kling-v1-6',
    endpoint: 'text2video',
    modes: BOTH_MODES,
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: null,
    cfgScale: true,
    sendsMode: true,
    note: 'standard 720p, professional 1080p',
  },
  KLING_V2_MASTER: {
    model: 'KLING_V2_MASTER',
    klingName: 'kling-v2-master',
    endpoint: 'text2video',
    modes: ['STANDARD'],
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: null,
    cfgScale: false,
    sendsMode: false,
    note: '720p; Kling takes no mode for this model',
  },
  KLING_V2_1_MASTER: {
    model: 'KLING_V2_1_MASTER',
    klingName: 'kling-v2-1-master',
    endpoint: 'text2video',
    modes: ['STANDARD'],
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: null,
    cfgScale: false,
    sendsMode: false,
    note: '1080p; Kling takes no mode for this model',
  },
  KLING_V2_5_TURBO: {
    model: 'KLING_V2_5_TURBO',
    klingName: 'kling-v2-5-turbo',
    endpoint: 'text2video',
    modes: BOTH_MODES,
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: null,
    cfgScale: false,
    sendsMode: true,
    note: 'professional 1080p',
  },
  KLING_V2_6: {
    model: 'KLING_V2_6',
    klingName: 'kling-v2-6',
    endpoint: 'text2video',
    modes: BOTH_MODES,
    durationsSeconds: FIVE_OR_TEN,
    audioModes: ['PROFESSIONAL'],
    camera: null,
    cfgScale: false,
    sendsMode: true,
    note: 'audio in professional mode only',
  },
  KLING_V3: {
    model: 'KLING_V3',
    klingName: 'kling-v3',
    endpoint: 'text2video',
    modes: BOTH_MODES,
    durationsSeconds: THREE_TO_FIFTEEN,
    audioModes: BOTH_MODES,
    camera: null,
    cfgScale: false,
    sendsMode: true,
    note: '3 to 15 s, priced per second',
  },
  KLING_V3_OMNI: {
    model: 'KLING_V3_OMNI',
    klingName: 'kling-v3-omni',
    endpoint: 'omni-video',
    modes: BOTH_MODES,
    durationsSeconds: THREE_TO_FIFTEEN,
    audioModes: BOTH_MODES,
    camera: null,
    cfgScale: false,
    sendsMode: true,
    note: "Kling's omni-video endpoint; 3 to 15 s",
  },
  KLING_VIDEO_O1: {
    model: 'KLING_VIDEO_O1',
    klingName: 'kling-video-o1',
    endpoint: 'omni-video',
    modes: BOTH_MODES,
    durationsSeconds: FIVE_OR_TEN,
    audioModes: [],
    camera: null,
    cfgScale: false,
    sendsMode: true,
    note: "Kling's omni-video endpoint",
  },
};

export const DEFAULT_MODEL: VideoModel = 'KLING_V2_MASTER';
export const DEFAULT_MODE: VideoMode = 'STANDARD';
export const DEFAULT_ASPECT_RATIO: AspectRatio = 'RATIO_16_9';
export const DEFAULT_DURATION_SECONDS = 5;

export function capabilitiesOf(model: VideoModel): ModelCapabilities {
  return MODEL_CAPABILITIES[model];
}
