// VideoTask and the entry points that return it: videoTask, videoTasks and taskUpdated.
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import type { CameraAxis, CameraMovement } from '../catalog/models.js';
import type { TaskPosition } from '../db/store.js';
import type { CameraConfig } from '../tasks/input.js';
import { FAILURE_CODES, TASK_STATUSES, type TaskFailure } from '../tasks/status.js';
import type { TaskVideo, TaskView } from '../tasks/task-view.js';
import { upstreamExpiry } from '../videos/video-links.js';
import { badUserInputError } from '../server/errors.js';
import { builder } from './builder.js';
import { AspectRatioEnum, CameraMovementEnum, VideoModeEnum, VideoModelEnum } from './models.js';

export const TaskStatusEnum = builder.enumType('TaskStatus', { values: TASK_STATUSES });
const FailureCodeEnum = builder.enumType('FailureCode', { values: FAILURE_CODES });

const TaskFailureRef = builder.objectRef<TaskFailure>('TaskFailure').implement({
  description: 'Why a task did not produce a video. Its credits were refunded.',
  fields: (t) => ({
    code: t.expose('code', { type: FailureCodeEnum }),
    message: t.exposeString('message'),
    retryable: t.exposeBoolean('retryable', { description: 'Whether submitting the same input again may work.' }),
  }),
});

const VideoRef = builder.objectRef<TaskVideo & { taskId: string; index: number; completedAt: Date | null }>('Video').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url', { description: "Kling's own URL; it expires (see expiresAt). playbackUrl does not go stale." }),
    durationSeconds: t.exposeFloat('durationSeconds'),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When `url` stops working: Kling deletes results 30 days after the task finished.',
      resolve: (v) => {
        const at = upstreamExpiry(v.url, v.completedAt?.getTime() ?? null);
        return at === null ? null : new Date(at);
      },
    }),
    playbackUrl: t.string({
      description: "A signed link to this video on the gateway, usable without a key until it expires; it redirects to a fresh copy at Kling's.",
      resolve: (v, _args, ctx) => ctx.services.videoLinks.link(v.taskId, v.index),
    }),
  }),
});

const CameraConfigRef = builder.objectRef<CameraConfig>('CameraConfig').implement({
  fields: (t) => {
    const axis = (name: CameraAxis) => t.exposeFloat(name);
    return {
      horizontal: axis('horizontal'),
      vertical: axis('vertical'),
      pan: axis('pan'),
      tilt: axis('tilt'),
      roll: axis('roll'),
      zoom: axis('zoom'),
    };
  },
});

const CameraControlRef = builder
  .objectRef<{ type: CameraMovement; config: CameraConfig | null }>('CameraControl')
  .implement({
    fields: (t) => ({
      type: t.expose('type', { type: CameraMovementEnum }),
      config: t.expose('config', { type: CameraConfigRef, nullable: true }),
    }),
  });

export const VideoTask = builder.objectRef<TaskView>('VideoTask').implement({
  description: 'A text-to-video job submitted through this gateway.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The gateway's own id, never Kling's." }),
    status: t.expose('status', { type: TaskStatusEnum }),
    prompt: t.exposeString('prompt'),
    negativePrompt: t.exposeString('negativePrompt', { nullable: true }),
    model: t.expose('model', { type: VideoModelEnum }),
    mode: t.expose('mode', { type: VideoModeEnum }),
    aspectRatio: t.expose('aspectRatio', { type: AspectRatioEnum }),
    durationSeconds: t.exposeInt('durationSeconds'),
    cfgScale: t.exposeFloat('cfgScale', { nullable: true }),
    generateAudio: t.exposeBoolean('generateAudio'),
    cameraControl: t.expose('cameraControl', { type: CameraControlRef, nullable: true }),
    credits: t.exposeInt('credits', { description: 'The price of this task.' }),
    creditsCharged: t.exposeInt('creditsCharged', {
      description: 'What this key actually paid: 0 until the task succeeds, and 0 if it did not.',
    }),
    failure: t.expose('failure', { type: TaskFailureRef, nullable: true }),
    videos: t.field({
      type: [VideoRef],
      resolve: (task) => task.videos.map((v, index) => ({ ...v, taskId: task.id, index, completedAt: task.completedAt })),
    }),
    queuePosition: t.int({
      nullable: true,
      description: "1-based place in this key's queue while QUEUED.",
      resolve: (task, _args, ctx) => ctx.services.tasks.queuePosition(task),
    }),
    webhookUrl: t.exposeString('webhookUrl', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('videoTask', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: VideoTask,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    description: "One of this key's tasks; null for an unknown id and for another key's task alike.",
    resolve: (_root, { id }, ctx) => ctx.services.tasks.find(ctx.apiKeyId, id),
  }),
);

const VideoTaskFilter = builder.inputType('VideoTaskFilter', {
  fields: (t) => ({
    status: t.field({ type: [TaskStatusEnum], description: 'Any of these states.' }),
    model: t.field({ type: VideoModelEnum }),
    createdFrom: t.field({ type: 'DateTime', description: 'Created at or after.' }),
    createdTo: t.field({ type: 'DateTime', description: 'Created at or before.' }),
  }),
});

const encodeCursor = (task: TaskView) => Buffer.from(`${task.createdAt.getTime()}:${task.id}`).toString('base64url');
/** A cursor this field handed out, or a BAD_USER_INPUT error: a garbage cursor must not read as "no more tasks". */
function decodeCursor(name: 'after' | 'before', cursor: string | null | undefined): TaskPosition | undefined {
  if (cursor === undefined || cursor === null) return undefined;
  const match = /^(\d{1,15}):([\w-]+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  // Buffer.from skips characters outside base64url, so only a cursor that encodes back to itself is ours.
  if (!match?.[1] || !match[2] || Buffer.from(match[0]).toString('base64url') !== cursor) {
    throw badUserInputError(`Argument "${name}" is not a cursor from videoTasks.`);
  }
  return { createdAt: Number(match[1]), id: match[2] };
}

const MAX_PAGE_SIZE = 100;
/** Out-of-range page sizes are refused rather than clamped, so a client never mistakes a short page for the end. */
function checkPageSize(name: 'first' | 'last', size: number | null | undefined) {
  if (size === undefined || size === null || (size >= 0 && size <= MAX_PAGE_SIZE)) return;
  throw badUserInputError(`Argument "${name}" must be between 0 and ${MAX_PAGE_SIZE}; got ${size}.`);
}

builder.queryField('videoTasks', (t) =>
  t.withAuth({ apiKey: true }).connection(
    {
    type: VideoTask,
    description: "This key's tasks, newest first; at most 100 per page.",
    args: { filter: t.arg({ type: VideoTaskFilter }) },
    resolve: (_root, args, ctx) => {
      // Checked before anything is read: the relay plugin would clamp these or throw an untyped error.
      checkPageSize('first', args.first);
      checkPageSize('last', args.last);
      const olderThan = decodeCursor('after', args.after);
      const newerThan = decodeCursor('before', args.before);
      return resolveCursorConnection(
        { args, toCursor: encodeCursor, defaultSize: 20, maxSize: MAX_PAGE_SIZE },
        ({ limit, inverted }: ResolveCursorConnectionArgs) =>
          ctx.services.tasks.list(ctx.apiKeyId, {
            limit,
            // Newest first: "after" a cursor means older than it.
            olderThan,
            newerThan,
            oldestFirst: inverted,
            filter: {
              statuses: args.filter?.status ?? undefined,
              model: args.filter?.model ?? undefined,
              createdFrom: args.filter?.createdFrom?.getTime(),
              createdTo: args.filter?.createdTo?.getTime(),
            },
          }),
      );
    },
    },
    { name: 'VideoTaskConnection' },
    { name: 'VideoTaskEdge' },
  ),
);

builder.subscriptionField('taskUpdated', (t) =>
  t.withAuth({ apiKey: true }).field({
    type: VideoTask,
    args: { id: t.arg.id({ required: true }) },
    description: 'The current state first, then every change; completes after a terminal state.',
    subscribe: (_root, { id }, ctx) => ctx.services.watch(ctx.apiKeyId, id),
    resolve: (task) => task,
  }),
);
