// What the MCP tools answer: a task (or a price) as structured content in the tools' vocabulary, and
// the same as text for clients that show only text. Every task answer says what to do next.
import { z } from 'zod';
import { FAILURE_CODES, isTerminal, TASK_STATUSES } from '../tasks/status.js';
import type { TaskView } from '../tasks/task-view.js';
import { KLING_ASPECT_RATIO, KLING_MODE } from '../tasks/kling-mapping.js';
import { klingNameOf } from './tool-input.js';

export const taskOutputShape = {
  task_id: z.string().describe("The gateway's task id; pass it to kling_get_video_task."),
  state: z
    .enum(TASK_STATUSES)
    .describe(
      'QUEUED (waiting for a free slot), SUBMITTED or PROCESSING (Kling is working), ' +
        'then one of SUCCEEDED, FAILED, CANCELED, TIMED_OUT (final).',
    ),
  finished: z.boolean().describe('True once the state is final and will not change.'),
  prompt: z.string(),
  model: z.string(),
  mode: z.string(),
  aspect_ratio: z.string(),
  duration: z.number().describe('Seconds.'),
  generate_audio: z.boolean(),
  credits: z.number().int().min(0).describe('The price of this task: held at submit, charged only if it succeeds.'),
  credits_charged: z.number().int().min(0).describe('What was actually charged: 0 until it succeeds, and 0 if it did not.'),
  videos: z
    .array(
      z.object({
        id: z.string(),
        url: z.string().describe("Kling's URL; it expires 30 days after the task finished."),
        playback_url: z.string().optional().describe('A signed link on the gateway that keeps working after Kling\'s URL expires (until its own expiry).'),
        duration: z.number().describe('Seconds.'),
      }),
    )
    .describe('The generated videos, once SUCCEEDED.'),
  failure: z
    .object({
      code: z.enum(FAILURE_CODES),
      message: z.string(),
      retryable: z.boolean().describe('True when the same request may succeed if tried again.'),
    })
    .nullable(),
  created_at: z.string().describe('ISO 8601.'),
  completed_at: z.string().nullable().describe('ISO 8601; null while the task is open.'),
  note: z.string().describe('What this state means and what to do next.'),
};
export type TaskOutput = z.infer<z.ZodObject<typeof taskOutputShape>>;

export const estimateOutputShape = {
  credits: z.number().int().min(0).describe('What kling_generate_video would hold for this input, and charge on success.'),
  credits_per_second: z.number(),
  model: z.string(),
  mode: z.string(),
  duration: z.number().describe('Seconds.'),
  generate_audio: z.boolean(),
};
export type EstimateOutput = z.infer<z.ZodObject<typeof estimateOutputShape>>;

/** The next step for an open task; `waitedSeconds` when the caller asked to wait and the time ran out. */
function openNote(task: TaskView, waitedSeconds: number | null): string {
  const lead =
    waitedSeconds === null
      ? `Submitted; the video is not ready yet.`
      : `Still processing after waiting ${waitedSeconds} s; the video is not ready yet.`;
  const queue = task.status === 'QUEUED' ? ' It waits in this key’s queue for a free slot at Kling.' : '';
  return (
    `${lead}${queue} Call kling_get_video_task with this task_id (${task.id}) to check again. ` +
    `${task.credits} credits are held and charged only if it succeeds.`
  );
}

function finishedNote(task: TaskView): string {
  switch (task.status) {
    case 'SUCCEEDED':
      return `Done: ${task.videos.length === 1 ? 'the video is' : `${task.videos.length} videos are`} ready. Charged ${task.creditsCharged} credits.`;
    case 'FAILED': {
      const retry = task.failure?.retryable ? 'Trying again may work.' : 'Change the input before trying again.';
      return `Failed: ${task.failure?.message ?? 'Kling could not generate the video.'} ${retry} Nothing was charged.`;
    }
    case 'CANCELED':
      return task.creditsCharged > 0
        ? `Canceled after Kling accepted it, which Kling bills: charged ${task.creditsCharged} credits.`
        : 'Canceled before Kling saw it; nothing was charged.';
    default:
      return 'Kling did not finish it in time; nothing was charged. Trying again may work.';
  }
}

export function toTaskOutput(
  task: TaskView,
  options: { waitedSeconds?: number; playbackUrl?: ((taskId: string, n: number) => string) | undefined } = {},
): TaskOutput {
  const finished = isTerminal(task.status);
  return {
    task_id: task.id,
    state: task.status,
    finished,
    prompt: task.prompt,
    model: klingNameOf(task.model),
    mode: KLING_MODE[task.mode],
    aspect_ratio: KLING_ASPECT_RATIO[task.aspectRatio],
    duration: task.durationSeconds,
    generate_audio: task.generateAudio,
    credits: task.credits,
    credits_charged: task.creditsCharged,
    videos: task.videos.map((v, n) => ({
      id: v.id,
      url: v.url,
      ...(options.playbackUrl ? { playback_url: options.playbackUrl(task.id, n) } : {}),
      duration: v.durationSeconds,
    })),
    failure: task.failure,
    created_at: task.createdAt.toISOString(),
    completed_at: task.completedAt?.toISOString() ?? null,
    note: finished ? finishedNote(task) : openNote(task, options.waitedSeconds ?? null),
  };
}

/** A headline an agent can act on without parsing, then the structured content as JSON. */
export function taskText(output: TaskOutput): string {
  const urls = output.videos.map((v) => `Video: ${v.url}`);
  return [`Task ${output.task_id}: ${output.state}. ${output.note}`, ...urls, '', JSON.stringify(output, null, 2)].join('\n');
}

export function estimateText(output: EstimateOutput): string {
  const audio = output.generate_audio ? ' with audio' : '';
  return (
    `${output.model} ${output.mode} ${output.duration} s${audio} costs ${output.credits} credits. Nothing was charged.\n\n` +
    JSON.stringify(output, null, 2)
  );
}
