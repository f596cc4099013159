// The model catalogue: enums shared by inputs and tasks, and the `models` query over the capability table.
import {
  ASPECT_RATIOS,
  CAMERA_MOVEMENTS,
  MODEL_CAPABILITIES,
  VIDEO_MODELS,
  VIDEO_MODES,
  type ModelCapabilities,
} from '../catalog/models.js';
import { builder } from './builder.js';

export const VideoModelEnum = builder.enumType('VideoModel', { values: VIDEO_MODELS });
export const VideoModeEnum = builder.enumType('VideoMode', { values: VIDEO_MODES });
export const AspectRatioEnum = builder.enumType('AspectRatio', { values: ASPECT_RATIOS });
export const CameraMovementEnum = builder.enumType('CameraMovement', { values: CAMERA_MOVEMENTS });

const ModelCapabilitiesRef = builder.objectRef<ModelCapabilities>('ModelCapabilities').implement({
  description: 'What one model accepts. generateVideo rejects anything outside it.',
  fields: (t) => ({
    model: t.expose('model', { type: VideoModelEnum }),
    modes: t.field({ type: [VideoModeEnum], resolve: (c) => [...c.modes] }),
    durationsSeconds: t.field({ type: ['Int'], resolve: (c) => [...c.durationsSeconds] }),
    audioModes: t.field({
      type: [VideoModeEnum],
      description: 'Modes in which generateAudio may be true; empty when the model has no audio.',
      resolve: (c) => [...c.audioModes],
    }),
    cameraControl: t.boolean({ resolve: (c) => c.camera !== null }),
    cameraControlModes: t.field({
      type: [VideoModeEnum],
      description: 'Modes that take camera control.',
      resolve: (c) => [...(c.camera?.modes ?? [])],
    }),
    cameraControlDurationsSeconds: t.field({
      type: ['Int'],
      description: 'Durations that take camera control.',
      resolve: (c) => [...(c.camera?.durationsSeconds ?? [])],
    }),
    cfgScale: t.exposeBoolean('cfgScale'),
    note: t.exposeString('note'),
  }),
});

builder.queryField('models', (t) =>
  t.field({
    type: [ModelCapabilitiesRef],
    description: 'Every model and what it accepts. Needs no API key.',
    resolve: () => VIDEO_MODELS.map((model) => MODEL_CAPABILITIES[model]),
  }),
);
