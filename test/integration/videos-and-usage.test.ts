// Durable video links and usage reports.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { onTeardown } from '../helpers/leftovers.js';
import { TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { ledgerTotals } from '../helpers/store-audit.js';
import { generateTask, lastTaskOf, type TaskUpdatedData } from '../helpers/task-flows.js';

const VIDEOS = /* GraphQL */ `
  query Videos($id: ID!) {
    videoTask(id: $id) { id status videos { id url expiresAt playbackUrl } }
  }
`;

const USAGE = /* GraphQL */ `
  query Usage($from: DateTime!, $to: DateTime!, $groupBy: UsageGrouping!) {
    me { usage(from: $from, to: $to, groupBy: $groupBy) { key tasks secondsGenerated creditsCharged } }
  }
`;

interface VideosData {
  videoTask: { id: string; status: string; videos: { id: string; url: string; expiresAt: string | null; playbackUrl: string }[] } | null;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'kling-gateway-videos-'));
onTeardown(() => rmSync(cacheDir, { recursive: true, force: true }));

let t: TestGateway;
let cached: TestGateway;

beforeAll(async () => {
  const fast = { env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' }, simulator: { taskSeconds: 0.3 } };
  t = await startGateway(fast);
  cached = await startGateway({ ...fast, env: { ...fast.env, VIDEO_CACHE_DIR: cacheDir } });
});

/** Submits, waits for the end over SSE, and returns the task's videos as the API shows them. */
async function finishedVideos(gateway: TestGateway, key: string, input: Record<string, unknown>) {
  const task = await generateTask(gateway, key, input);
  const outcome = await subscribeSse<TaskUpdatedData>(gateway.url, TASK_UPDATED, { id: task.id }, { key }).done;
  expect(lastTaskOf(outcome)?.status).toBe('SUCCEEDED');
  const res = await gateway.graphql<VideosData>(VIDEOS, { id: task.id }, key);
  const videos = res.body.data?.videoTask?.videos ?? [];
  expect(videos).toHaveLength(1);
  return { taskId: task.id, video: videos[0] ?? { id: '', url: '', expiresAt: null, playbackUrl: '' } };
}

const get = (url: string, key?: string) =>
  fetch(url, { redirect: 'manual', headers: key ? { authorization: `Bearer ${key}` } : {} });

describe('durable video links', () => {
  it('gives each video an expiry and a signed link that redirects to Kling', async () => {
    const key = await t.createKey(1_000);
    const { taskId, video } = await finishedVideos(t, key, { prompt: 'A paper boat on a stream' });
    expect(Date.parse(video.expiresAt ?? '')).toBeGreaterThan(Date.now() + 29 * 24 * 3600 * 1000);
    expect(video.playbackUrl.startsWith(new URL(`/videos/${taskId}/0?`, t.url).href)).toBe(true);

    const viaLink = await get(video.playbackUrl);
    expect(viaLink.status).toBe(302);
    expect(viaLink.headers.get('location')).toBe(video.url);

    const bare = new URL(`/videos/${taskId}/0`, t.url).href;
    expect((await get(bare, key)).status).toBe(302);
    expect((await get(bare)).status).toBe(401);
    expect((await get(bare, await t.createKey(10))).status).toBe(404);
    const tampered = new URL(video.playbackUrl);
    const sig = tampered.searchParams.get('sig') ?? '';
    // Change the first character to a different one: a fixed replacement equals the signature 1 time in 64.
    tampered.searchParams.set('sig', (sig.startsWith('x') ? 'y' : 'x') + sig.slice(1));
    expect((await get(tampered.href)).status).toBe(401);
  });

  it('asks Kling for a fresh URL once the stored one has expired', async () => {
    const key = await t.createKey(1_000);
    const { taskId, video } = await finishedVideos(t, key, { prompt: 'A kite over dunes' });
    const stale = new URL(video.url);
    stale.searchParams.set('Expires', String(Math.floor(Date.now() / 1000) - 60));
    await t.gateway.store.updateVideos(taskId, JSON.stringify([{ id: video.id, url: stale.href, durationSeconds: 5 }]));
    const getsBefore = t.simulator.stats.requests.get;

    const res = await get(video.playbackUrl);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(video.url);
    expect(t.simulator.stats.requests.get).toBe(getsBefore + 1);
    const stored = JSON.parse((await t.gateway.store.getTask(taskId))?.videos ?? '[]') as { url: string }[];
    expect(stored[0]?.url).toBe(video.url);
  });

  it('serves a downloaded copy when VIDEO_CACHE_DIR is set', async () => {
    const key = await cached.createKey(1_000);
    const { video } = await finishedVideos(cached, key, { prompt: 'A lantern in the rain' });
    const res = await get(video.playbackUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const again = await get(video.playbackUrl);
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe('me.usage', () => {
  it('sums charged tasks per model and per day, equal to the ledger', async () => {
    const key = await t.createKey(10_000);
    await finishedVideos(t, key, { prompt: 'One', model: 'KLING_V1' });
    await finishedVideos(t, key, { prompt: 'Two', model: 'KLING_V1', durationSeconds: 10 });
    await finishedVideos(t, key, { prompt: 'Three', model: 'KLING_V3', durationSeconds: 3 });
    const failed = await generateTask(t, key, { prompt: 'Four [[fail]]', model: 'KLING_V3' });
    await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: failed.id }, { key }).done;

    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const byModel = await t.graphql<{ me: { usage: unknown[] } }>(USAGE, { ...range, groupBy: 'MODEL' }, key);
    expect(byModel.body.data?.me.usage).toEqual([
      { key: 'KLING_V1', tasks: 2, secondsGenerated: 15, creditsCharged: 30 },
      { key: 'KLING_V3', tasks: 1, secondsGenerated: 3, creditsCharged: 18 },
    ]);
    const byDay = await t.graphql<{ me: { usage: { creditsCharged: number }[] } }>(USAGE, { ...range, groupBy: 'DAY' }, key);
    const charged = byDay.body.data?.me.usage.reduce((sum, bucket) => sum + bucket.creditsCharged, 0);
    const ledger = await ledgerTotals(t.gateway.store, (await t.gateway.apiKeys.authenticate(key)) ?? '');
    expect(charged).toBe(ledger.charge);
  });

  it('rejects a range that ends before it starts', async () => {
    const key = await t.createKey(10);
    const res = await t.graphql(USAGE, { from: new Date().toISOString(), to: new Date(Date.now() - 1000).toISOString(), groupBy: 'DAY' }, key);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('VALIDATION_FAILED');
  });
});
