// Local video copies (VIDEO_CACHE_DIR): one download for concurrent first requests, no temporary
// files left behind, and a size cap that deletes the least recently used copies.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleClip } from '../../src/kling/simulator/placeholder-video.js';
import { onTeardown } from '../helpers/leftovers.js';
import { TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { FAST_POLLING, generateTask, lastTaskOf, type TaskUpdatedData } from '../helpers/task-flows.js';

const VIDEOS = /* GraphQL */ `
  query Videos($id: ID!) {
    videoTask(id: $id) { id videos { id url playbackUrl } }
  }
`;

interface VideosData {
  videoTask: { id: string; videos: { id: string; url: string; playbackUrl: string }[] } | null;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-video-cache-'));
  onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const cacheDir = tempDir();
const cappedDir = tempDir();
const tinyDir = tempDir();
let cached: TestGateway;
let capped: TestGateway;
let tiny: TestGateway;

beforeAll(async () => {
  const start = (env: Record<string, string>) => startGateway({ env: { ...FAST_POLLING, ...env }, simulator: { taskSeconds: 0.3 } });
  // Caps sized from the simulator's clip: two copies fit under the first, none under the second.
  const clipBytes = sampleClip().length;
  [cached, capped, tiny] = await Promise.all([
    start({ VIDEO_CACHE_DIR: cacheDir }),
    start({ VIDEO_CACHE_DIR: cappedDir, VIDEO_CACHE_MAX_BYTES: String(Math.floor(clipBytes * 2.5)) }),
    start({ VIDEO_CACHE_DIR: tinyDir, VIDEO_CACHE_MAX_BYTES: String(Math.floor(clipBytes / 2)) }),
  ]);
});

/** Submits, waits for the end over SSE, and returns the task id and its one video. */
async function finishedVideo(t: TestGateway, prompt: string) {
  const key = await t.createKey(1_000);
  const task = await generateTask(t, key, { prompt });
  const outcome = await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key }).done;
  expect(lastTaskOf(outcome)?.status).toBe('SUCCEEDED');
  const video = (await t.graphql<VideosData>(VIDEOS, { id: task.id }, key)).body.data?.videoTask?.videos[0];
  if (!video) throw new Error(`task ${task.id} has no video`);
  return { taskId: task.id, video };
}

const get = (url: string) => fetch(url, { redirect: 'manual' });
const filesIn = (dir: string) => readdirSync(dir).sort();

describe('video cache', () => {
  it('answers 20 concurrent first requests from one download, with identical bytes and no temporary files left', async () => {
    const { taskId, video } = await finishedVideo(cached, 'A heron at dawn');
    const downloadsBefore = cached.simulator.stats.requests.video;

    const responses = await Promise.all(Array.from({ length: 20 }, () => get(video.playbackUrl)));
    expect(responses.map((res) => res.status)).toEqual(Array<number>(20).fill(200));
    const bodies = await Promise.all(responses.map(async (res) => Buffer.from(await res.arrayBuffer())));
    for (const body of bodies) expect(body.equals(sampleClip())).toBe(true);

    expect(cached.simulator.stats.requests.video).toBe(downloadsBefore + 1);
    expect(filesIn(cacheDir).filter((file) => file.endsWith('.part'))).toEqual([]);
    expect(filesIn(cacheDir)).toContain(`${taskId}-0.mp4`);
  });

  it('leaves no temporary file when a download breaks off, and answers 502', async () => {
    // An origin that promises the whole clip and hangs up after 100 bytes.
    const broken = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': sampleClip().length });
      res.write(sampleClip().subarray(0, 100), () => res.destroy());
    });
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    onTeardown(() => new Promise<void>((resolve) => broken.close(() => resolve())));
    const { taskId, video } = await finishedVideo(cached, 'A lighthouse in fog');
    const farFuture = Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
    const brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/clip.mp4?Expires=${farFuture}`;
    await cached.gateway.store.updateVideos(taskId, JSON.stringify([{ id: video.id, url: brokenUrl, durationSeconds: 5 }]));

    const responses = await Promise.all(Array.from({ length: 5 }, () => get(video.playbackUrl)));
    expect(responses.map((res) => res.status)).toEqual(Array<number>(5).fill(502));
    expect(filesIn(cacheDir).filter((file) => file.endsWith('.part'))).toEqual([]);
    expect(filesIn(cacheDir)).not.toContain(`${taskId}-0.mp4`);
  });

  it('deletes the least recently used copies once their total passes VIDEO_CACHE_MAX_BYTES', async () => {
    const a = await finishedVideo(capped, 'First');
    const b = await finishedVideo(capped, 'Second');
    const c = await finishedVideo(capped, 'Third');
    const fileOf = (task: { taskId: string }) => `${task.taskId}-0.mp4`;
    const play = async (task: { video: { playbackUrl: string } }) => {
      const res = await get(task.video.playbackUrl);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(sampleClip())).toBe(true);
    };
    const downloadsBefore = capped.simulator.stats.requests.video;

    await play(a);
    await play(b);
    await play(a); // A is now used more recently than B.
    await play(c);
    expect(filesIn(cappedDir)).toEqual([fileOf(a), fileOf(c)].sort());
    expect(capped.simulator.stats.requests.video).toBe(downloadsBefore + 3);

    await play(b); // Downloaded again; A is now the least recently used.
    expect(filesIn(cappedDir)).toEqual([fileOf(b), fileOf(c)].sort());
    expect(capped.simulator.stats.requests.video).toBe(downloadsBefore + 4);
  });

  it('redirects rather than keeping a video larger than the whole cap', async () => {
    const { video } = await finishedVideo(tiny, 'A glacier calving');
    const res = await get(video.playbackUrl);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(video.url);
    expect(filesIn(tinyDir)).toEqual([]);
  });
});
