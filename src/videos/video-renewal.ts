// Fresh upstream URLs for a finished task's videos. Kling's result URLs expire; when a playback link
// is opened near or after that, Kling is asked again. The ask waits on the same rate budget as the
// poller, is shared by every request for the task meanwhile, and its answer is stored and remembered,
// so a link opened N times costs one upstream call.
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import type { KlingClient } from '../kling/types.js';
import { klingEndpointOf } from '../tasks/kling-mapping.js';
import type { RateBudget } from '../tasks/rate-budget.js';
import type { TaskVideo } from '../tasks/task-view.js';
import { upstreamExpiry } from './video-links.js';

/** An upstream URL with less than this left is renewed before we hand it out. */
const RENEW_MARGIN_MS = 3_600_000;
/**
 * How long an answer is used without asking again, even when Kling gave no URL fresher than the
 * margin: it covers requests that read the task row before the answer was stored, too.
 */
const ANSWER_REUSE_MS = 300_000;
/** Past this many remembered answers, expired ones are dropped. */
const PRUNE_AT = 1_000;

export interface VideoRenewalOptions {
  store: Store;
  kling: KlingClient;
  /** The poller's budget: renewals count against the same upstream request rate. */
  budget: RateBudget;
  clock: Clock;
}

export function createVideoRenewal({ store, kling, budget, clock }: VideoRenewalOptions) {
  const inFlight = new Map<string, Promise<TaskVideo[]>>();
  const answers = new Map<string, { videos: TaskVideo[]; until: number }>();

  const remember = (taskId: string, videos: TaskVideo[]) => {
    const now = clock.now();
    if (answers.size >= PRUNE_AT) {
      for (const [id, answer] of answers) if (answer.until <= now) answers.delete(id);
    }
    answers.set(taskId, { videos, until: now + ANSWER_REUSE_MS });
  };

  const renew = async (task: TaskRow & { klingTaskId: string }, stored: TaskVideo[]): Promise<TaskVideo[]> => {
    await budget.take();
    const found = await kling.getTask(klingEndpointOf(task.model), task.klingTaskId);
    const videos = stored.map((video, i) => ({ ...video, url: found?.videos[i]?.url ?? video.url }));
    if (videos.some((video, i) => video.url !== stored[i]?.url)) await store.updateVideos(task.id, JSON.stringify(videos));
    remember(task.id, videos);
    return videos;
  };

  return {
    /** Video `n`'s upstream URL, renewed first if it is about to expire; null when there is no such video. */
    async freshUrl(task: TaskRow, n: number): Promise<string | null> {
      const stored = JSON.parse(task.videos) as TaskVideo[];
      const video = stored[n];
      if (!video) return null;
      const expiry = upstreamExpiry(video.url, task.completedAt);
      if (expiry === null || expiry - clock.now() > RENEW_MARGIN_MS || task.klingTaskId === null) return video.url;
      const answer = answers.get(task.id);
      if (answer && answer.until > clock.now()) return answer.videos[n]?.url ?? video.url;
      let flight = inFlight.get(task.id);
      if (!flight) {
        flight = renew({ ...task, klingTaskId: task.klingTaskId }, stored).finally(() => inFlight.delete(task.id));
        inFlight.set(task.id, flight);
      }
      return (await flight)[n]?.url ?? video.url;
    },
  };
}

export type VideoRenewal = ReturnType<typeof createVideoRenewal>;
