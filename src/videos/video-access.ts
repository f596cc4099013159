// Serves `/videos/<taskId>/<n>`: for the owning key or a signed link, redirects to a fresh upstream
// URL (asking Kling again when the stored one is about to expire), or serves a local copy.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import type { KlingClient } from '../kling/types.js';
import { bearerToken } from '../server/caller.js';
import type { ApiKeys } from '../auth/api-keys.js';
import { klingEndpointOf } from '../tasks/kling-mapping.js';
import type { TaskVideo } from '../tasks/task-view.js';
import { upstreamExpiry, type VideoLinks } from './video-links.js';

/** An upstream URL with less than this left is renewed before we hand it out. */
const RENEW_MARGIN_MS = 3_600_000;

export interface VideoAccessOptions {
  store: Store;
  kling: KlingClient;
  apiKeys: ApiKeys;
  links: VideoLinks;
  clock: Clock;
  logger: Logger;
  /** Keep a downloaded copy of each video here and serve it instead of redirecting. */
  cacheDir?: string | undefined;
}

function send(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(message);
}

export function createVideoAccess(options: VideoAccessOptions) {
  const { store, kling, apiKeys, links, clock, logger } = options;

  /** The video's current upstream URL, asking Kling for fresh ones when the stored URL is stale. */
  const freshUrl = async (task: TaskRow, n: number): Promise<string | null> => {
    const videos = JSON.parse(task.videos) as TaskVideo[];
    const video = videos[n];
    if (!video) return null;
    const expiry = upstreamExpiry(video.url, task.completedAt);
    if ((expiry === null || expiry - clock.now() > RENEW_MARGIN_MS) || task.klingTaskId === null) return video.url;
    const found = await kling.getTask(klingEndpointOf(task.model), task.klingTaskId);
    const renewed = found?.videos[n]?.url;
    if (!found || !renewed) return video.url;
    await store.updateVideos(
      task.id,
      JSON.stringify(videos.map((v, i) => ({ ...v, url: found.videos[i]?.url ?? v.url }))),
    );
    return renewed;
  };

  const cached = async (task: TaskRow, n: number, url: string): Promise<string | null> => {
    if (!options.cacheDir) return null;
    const path = join(options.cacheDir, `${task.id}-${n}.mp4`);
    if (await stat(path).then(() => true, () => false)) return path;
    await mkdir(options.cacheDir, { recursive: true });
    // undici's request follows no redirects: a copy comes from the URL Kling gave, or not at all.
    const download = await request(url);
    if (download.statusCode !== 200) {
      await download.body.dump();
      return null;
    }
    // Written under a temporary name and renamed, so a half-written file is never served.
    const partial = `${path}.${process.pid}.part`;
    await pipeline(download.body, createWriteStream(partial));
    await rename(partial, path);
    return path;
  };

  return async function serveVideo(req: IncomingMessage, res: ServerResponse, taskId: string, n: number) {
    try {
      const query = new URL(req.url ?? '/', 'http://gateway').searchParams;
      const signed = links.verify(taskId, n, query.get('expires'), query.get('sig'));
      const keyId = signed ? null : await apiKeys.authenticate(bearerToken(req.headers.authorization));
      const task = signed ? await store.getTask(taskId) : keyId ? await store.getTaskForKey(keyId, taskId) : undefined;
      if (!signed && !keyId) {
        send(res, 401, 'A signed link or the owning API key is required.');
        return;
      }
      const url = task?.status === 'SUCCEEDED' ? await freshUrl(task, n) : null;
      if (!task || !url) {
        send(res, 404, 'No such video.');
        return;
      }
      const local = await cached(task, n, url);
      if (local) {
        res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'private, max-age=3600' });
        await pipeline(createReadStream(local), res);
        return;
      }
      res.writeHead(302, { location: url, 'cache-control': 'private, max-age=60' });
      res.end();
    } catch (error) {
      logger.error({ err: error, taskId }, 'could not serve a video');
      if (!res.headersSent) send(res, 502, 'The video is not available right now.');
      else res.destroy();
    }
  };
}

export type VideoAccess = ReturnType<typeof createVideoAccess>;
