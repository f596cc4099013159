// Local copies of videos (VIDEO_CACHE_DIR). However many requests for a video arrive at once, it is
// downloaded once, under a temporary name of its own, and renamed into place whole. The copies are
// capped in total size; past the cap the least recently used ones are deleted.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';

export interface VideoCacheOptions {
  dir: string;
  /** Total size the copies may take on this instance; a video larger than this is not kept at all. */
  maxBytes: number;
}

const PART_SUFFIX = '.part';
/** A temporary file this old belongs to a download that died with its process. */
const ABANDONED_PART_MS = 3_600_000;

export function createVideoCache({ dir, maxBytes }: VideoCacheOptions) {
  /** Size of each copy on disk, least recently used first (a Map iterates in insertion order). */
  const sizes = new Map<string, number>();
  let total = 0;
  /** Downloads in flight, so concurrent first requests share one. */
  const downloads = new Map<string, Promise<boolean>>();
  let ready: Promise<void> | undefined;

  const pathOf = (name: string) => join(dir, `${name}.mp4`);

  const forget = (name: string) => {
    total -= sizes.get(name) ?? 0;
    sizes.delete(name);
  };

  const remember = (name: string, size: number) => {
    forget(name);
    sizes.set(name, size);
    total += size;
  };

  const evict = async () => {
    const victims: string[] = [];
    for (const [name] of sizes) {
      if (total <= maxBytes) break;
      forget(name);
      victims.push(name);
    }
    // A copy being streamed stays readable through its open handle until the stream ends.
    await Promise.all(victims.map((name) => rm(pathOf(name), { force: true })));
  };

  /** Takes over the copies an earlier run left (oldest use first) and clears abandoned temporary files. */
  const load = async () => {
    await mkdir(dir, { recursive: true });
    const found: { name: string; size: number; usedAt: number }[] = [];
    for (const file of await readdir(dir)) {
      const info = await stat(join(dir, file)).catch(() => undefined);
      if (!info?.isFile()) continue;
      if (file.endsWith(PART_SUFFIX)) {
        // Recent ones may be another instance's download in progress on a shared directory.
        if (Date.now() - info.mtimeMs > ABANDONED_PART_MS) await rm(join(dir, file), { force: true });
      } else if (file.endsWith('.mp4')) {
        found.push({ name: file.slice(0, -'.mp4'.length), size: info.size, usedAt: Math.max(info.atimeMs, info.mtimeMs) });
      }
    }
    found.sort((a, b) => a.usedAt - b.usedAt);
    for (const { name, size } of found) remember(name, size);
    await evict();
  };

  /** Downloads `url` into the cache as `name`; false when it is not 200 or is over the cap. */
  const download = async (name: string, url: string): Promise<boolean> => {
    // undici's request follows no redirects: a copy comes from the URL Kling gave, or not at all.
    const response = await request(url);
    if (response.statusCode !== 200 || Number(response.headers['content-length']) > maxBytes) {
      await response.body.dump();
      return false;
    }
    const part = join(dir, `${name}.${randomUUID()}${PART_SUFFIX}`);
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(size > maxBytes ? new Error('the video is larger than VIDEO_CACHE_MAX_BYTES') : null, chunk);
      },
    });
    try {
      await pipeline(response.body, counted, createWriteStream(part, { flags: 'wx' }));
      await rename(part, pathOf(name));
    } catch (error) {
      await rm(part, { force: true });
      if (size > maxBytes) return false;
      throw error;
    }
    remember(name, size);
    await evict();
    return true;
  };

  return {
    /**
     * An open handle on the local copy of `name`, downloading it from `url` first if needed; null
     * when it cannot be kept (not 200, or over the cap), so the caller redirects instead.
     */
    async open(name: string, url: string): Promise<FileHandle | null> {
      ready ??= load().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
      // A second round in case the fresh copy was evicted (a tiny cap) or deleted before we opened it.
      for (let round = 0; round < 2; round++) {
        if (sizes.has(name)) {
          const handle = await open(pathOf(name)).catch(() => undefined);
          if (handle) {
            remember(name, sizes.get(name) ?? 0);
            return handle;
          }
          forget(name);
        }
        let flight = downloads.get(name);
        if (!flight) {
          flight = download(name, url).finally(() => downloads.delete(name));
          downloads.set(name, flight);
        }
        if (!(await flight)) return null;
      }
      return null;
    },
  };
}

export type VideoCache = ReturnType<typeof createVideoCache>;
