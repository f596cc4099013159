// GenerateVideoInput, the generateVideo mutation, its cost estimate, and cancelVideoTask.
import {
  IdempotencyConflictError,
  InsufficientCreditsError,
  NotFoundError,
  RateLimitedError,
  UpstreamError,
  ValidationError,
} from '../errors.js';
import { checkGenerateInput, type GenerateRequest, type GenerateVideoInputRaw } from '../tasks/input.js';
import { builder } from './builder.js';
import type { GatewayContext } from './context.js';
import { AspectRatioEnum, CameraMovementEnum, VideoModeEnum, VideoModelEnum } from './models.js';
import { VideoTask } from './video-task.js';

const CameraConfigInput = builder.inputType('CameraConfigInput', {
  description: 'Each value -10..10. SIMPLE takes exactly one non-zero value.',
  fields: (t) => ({
    horizontal: t.float({ description: 'Move along x: negative left, positive right.' }),
    vertical: t.float({ description: 'Move along y: negative down, positive up.' }),
    pan: t.float({ description: 'Rotate about the vertical axis.' }),
    tilt: t.float({ description: 'Rotate about the horizontal axis.' }),
    roll: t.float({ description: 'Rotate about the lens axis.' }),
    zoom: t.float({ description: 'Negative narrows the view, positive widens it.' }),
  }),
});

const CameraControlInput = builder.inputType('CameraControlInput', {
  description: 'config is required for SIMPLE and must be absent for the presets.',
  fields: (t) => ({
    type: t.field({ type: CameraMovementEnum, required: true }),
    config: t.field({ type: CameraConfigInput }),
  }),
});

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: '1 to 2500 characters after trimming.' }),
    negativePrompt: t.string({ description: 'What to keep out of the video; up to 2500 characters.' }),
    model: t.field({ type: VideoModelEnum, description: 'Default KLING_V2_MASTER.' }),
    mode: t.field({ type: VideoModeEnum, description: 'Default STANDARD.' }),
    aspectRatio: t.field({ type: AspectRatioEnum, description: 'Default RATIO_16_9.' }),
    durationSeconds: t.int({ description: 'Default 5; see `models` for what each model takes.' }),
    cfgScale: t.float({ description: '0..1, where the model supports it.' }),
    cameraControl: t.field({ type: CameraControlInput }),
    generateAudio: t.boolean({ description: 'Only where the model supports it (see `models`).' }),
    webhookUrl: t.string({ description: 'http(s) URL notified, signed, on terminal states.' }),
    idempotencyKey: t.string({
      description: 'The same key with the same input returns the same task and never charges twice.',
    }),
  }),
});

/**
 * The rules of tasks/input.ts with this gateway's webhook target policy, which comes from its config:
 * checked here rather than by the validation plugin, whose schemas cannot see the context. Still before
 * anything else the resolvers do, and with every issue at once.
 */
function checkedInput(input: GenerateVideoInputRaw, ctx: GatewayContext): GenerateRequest {
  const result = checkGenerateInput(input, ctx.services.webhookTargets);
  if (!result.ok) throw new ValidationError(result.issues);
  return result.value;
}

builder.mutationField('generateVideo', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: VideoTask,
    description: 'Validates, prices and holds the credits, then submits the task to Kling.',
    errors: {
      types: [ValidationError, InsufficientCreditsError, RateLimitedError, IdempotencyConflictError, UpstreamError],
      result: { name: 'GenerateVideoSuccess' },
      union: { name: 'GenerateVideoResult' },
      dataField: { name: 'task' },
    },
    args: { input: t.arg({ type: GenerateVideoInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const request = checkedInput(input, ctx);
      if (ctx.rateLimited) throw new RateLimitedError(ctx.rateLimited.retryAfterSeconds);
      return ctx.services.tasks.submit(ctx.apiKeyId, request, ctx.operationSpan);
    },
  }),
);

interface CostEstimateShape {
  credits: number;
  creditsPerSecond: number;
  request: GenerateRequest;
}

const CostEstimate = builder.objectRef<CostEstimateShape>('CostEstimate').implement({
  description: 'What generateVideo would hold for this input. Nothing is charged for asking.',
  fields: (t) => ({
    credits: t.exposeInt('credits'),
    creditsPerSecond: t.exposeFloat('creditsPerSecond'),
    model: t.field({ type: VideoModelEnum, resolve: (e) => e.request.model }),
    mode: t.field({ type: VideoModeEnum, resolve: (e) => e.request.mode }),
    durationSeconds: t.int({ resolve: (e) => e.request.durationSeconds }),
    generateAudio: t.boolean({ resolve: (e) => e.request.generateAudio }),
  }),
});

builder.queryField('estimateVideoCost', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: CostEstimate,
    errors: {
      types: [ValidationError],
      directResult: true,
      union: { name: 'EstimateVideoCostResult' },
    },
    args: { input: t.arg({ type: GenerateVideoInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const request = checkedInput(input, ctx);
      return { ...ctx.services.tasks.quote(request), request };
    },
  }),
);

builder.mutationField('cancelVideoTask', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: VideoTask,
    description:
      'QUEUED tasks are refunded. A task Kling already accepted becomes CANCELED and is charged, because Kling bills it. Finished tasks do not change.',
    errors: {
      types: [NotFoundError],
      result: { name: 'CancelVideoTaskSuccess' },
      union: { name: 'CancelVideoTaskResult' },
      dataField: { name: 'task' },
    },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => {
      // Not in this union: surfaces as a top-level error with code RATE_LIMITED.
      if (ctx.rateLimited) throw new RateLimitedError(ctx.rateLimited.retryAfterSeconds);
      return ctx.services.tasks.cancel(ctx.apiKeyId, id);
    },
  }),
);
