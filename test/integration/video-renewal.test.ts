// Renewing an expired upstream URL behind a playback link: one Kling call however many hits, and
// only when the upstream rate budget (the poller's) lets it through.
import { describe, expect, it } from 'vitest';
import { createRateBudget } from '../../src/tasks/rate-budget.js';
import { TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway } from '../helpers/start-gateway.js';
import { createSteeredClock } from '../helpers/steered-clock.js';
import { FAST_POLLING, generateTask, klingIdOf, lastTaskOf, type TaskUpdatedData } from '../helpers/task-flows.js';

const VIDEOS = /* GraphQL */ `
  query Videos($id: ID!) {
    videoTask(id: $id) { id videos { id url playbackUrl } }
  }
`;

interface VideosData {
  videoTask: { id: string; videos: { id: string; url: string; playbackUrl: string }[] } | null;
}

const get = (url: string, key?: string) =>
  fetch(url, { redirect: 'manual', headers: key ? { authorization: `Bearer ${key}` } : {} });

describe('renewing an expired upstream URL', () => {
  it('makes one Kling call for many hits, after waiting on the upstream rate budget', async () => {
    const budgetClock = createSteeredClock();
    const budget = createRateBudget({ clock: budgetClock, perSecond: 20 });
    const t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 0.3 }, overrides: { upstreamBudget: budget } });
    const key = await t.createKey(1_000);
    const task = await generateTask(t, key, { prompt: 'A kite over dunes' });
    const outcome = await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key }).done;
    expect(lastTaskOf(outcome)?.status).toBe('SUCCEEDED');
    const video = (await t.graphql<VideosData>(VIDEOS, { id: task.id }, key)).body.data?.videoTask?.videos[0];
    if (!video) throw new Error('the task has no video');

    const stale = new URL(video.url);
    stale.searchParams.set('Expires', String(Math.floor(Date.now() / 1000) - 60));
    await t.gateway.store.updateVideos(task.id, JSON.stringify([{ id: video.id, url: stale.href, durationSeconds: 5 }]));
    const klingId = await klingIdOf(t, task.id);
    const getsOf = () => t.simulator.stats.getsPerTaskId.get(klingId) ?? 0;
    const getsBefore = getsOf();

    // Kling said "slow down" a moment ago: the budget holds every upstream request back for an hour.
    budget.pause(3_600_000);
    const budgetWait = budgetClock.nextSleep();
    const hits = Promise.all(Array.from({ length: 10 }, (_, i) => get(video.playbackUrl, i % 2 === 0 ? undefined : key)));
    const first = await Promise.race([budgetWait.then(() => 'waiting on the budget'), hits.then(() => 'served')]);
    expect(first).toBe('waiting on the budget');
    expect(getsOf()).toBe(getsBefore);

    budgetClock.advance(3_600_000);
    for (const res of await hits) {
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(video.url);
    }
    expect(getsOf()).toBe(getsBefore + 1);

    for (let i = 0; i < 5; i++) {
      const res = await get(video.playbackUrl);
      expect(res.headers.get('location')).toBe(video.url);
    }
    expect(getsOf()).toBe(getsBefore + 1);
    const stored = JSON.parse((await t.gateway.store.getTask(task.id))?.videos ?? '[]') as { url: string }[];
    expect(stored[0]?.url).toBe(video.url);
  });
});
