// Serves `/videos/<taskId>/<n>`: for the owning key or a signed link, redirects to a fresh upstream
// URL (video-renewal.ts asks Kling again when the stored one is about to expire), or serves a local
// copy (video-cache.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Store } from '../db/store.js';
import type { KlingClient } from '../kling/types.js';
import { bearerToken } from '../server/caller.js';
import type { ApiKeys } from '../auth/api-keys.js';
import type { RateBudget } from '../tasks/rate-budget.js';
import { createVideoCache } from './video-cache.js';
import type { VideoLinks } from './video-links.js';
import { createVideoRenewal } from './video-renewal.js';

export interface VideoAccessOptions {
  store: Store;
  kling: KlingClient;
  /** The upstream request budget the poller uses; renewing an expired URL takes from it too. */
  budget: RateBudget;
  apiKeys: ApiKeys;
  links: VideoLinks;
  clock: Clock;
  logger: Logger;
  /** Keep a downloaded copy of each video here and serve it instead of redirecting. */
  cacheDir?: string | undefined;
  /** Cap on the copies' total size in cacheDir. @default 1 GiB */
  cacheMaxBytes?: number | undefined;
}

function send(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(message);
}

export function createVideoAccess(options: VideoAccessOptions) {
  const { store, kling, budget, apiKeys, links, clock, logger } = options;
  const renewal = createVideoRenewal({ store, kling, budget, clock });
  const cache = options.cacheDir ? createVideoCache({ dir: options.cacheDir, maxBytes: options.cacheMaxBytes ?? 2 ** 30 }) : undefined;

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
      const url = task?.status === 'SUCCEEDED' ? await renewal.freshUrl(task, n) : null;
      if (!task || !url) {
        send(res, 404, 'No such video.');
        return;
      }
      const local = await cache?.open(`${task.id}-${n}`, url);
      if (local) {
        res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'private, max-age=3600' });
        await pipeline(local.createReadStream(), res);
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
