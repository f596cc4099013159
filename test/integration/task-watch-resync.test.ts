// When events may have been lost (the Redis subscription reconnected), a live watch re-reads its
// task instead of waiting for an event that will never come.
import { describe, expect, it } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { systemClock } from '../../src/clock.js';
import { openSqlite } from '../../src/db/connection.js';
import { createStore } from '../../src/db/store.js';
import { createTaskPubSub } from '../../src/tasks/pubsub.js';
import { createTaskWatch } from '../../src/tasks/task-watch.js';
import type { TaskView } from '../../src/tasks/task-view.js';

describe('taskUpdated after lost events', () => {
  it('emits the stored state on resync and ends when it is terminal', async () => {
    const database = openSqlite(':memory:');
    const store = createStore(database.dialect);
    const { account } = await createApiKeys({ store, clock: systemClock }).create('resync', 1_000);
    const now = Date.now();
    await store.insertTaskWithHold({
      id: 'vt_resync',
      apiKeyId: account.id,
      status: 'SUBMITTED',
      prompt: 'A lighthouse',
      model: 'KLING_V2_MASTER',
      mode: 'STANDARD',
      aspectRatio: 'RATIO_16_9',
      durationSeconds: 5,
      generateAudio: false,
      inputFingerprint: 'f',
      credits: 100,
      callbackToken: 't',
      createdAt: now,
      updatedAt: now,
      deadlineAt: now + 60_000,
      nextCheckAt: now,
    });
    const resync = new EventTarget();
    const watch = createTaskWatch({ store, pubsub: createTaskPubSub({ read: (id) => store.getTask(id) }), resync });
    const updates = watch(account.id, 'vt_resync');
    const statusOf = (result: IteratorResult<TaskView>) => (result.done ? undefined : result.value.status);
    expect(statusOf(await updates.next())).toBe('SUBMITTED');

    // The change is committed but its event never arrives (published while Redis was away).
    await store.transition('vt_resync', { from: ['SUBMITTED'], set: { status: 'SUCCEEDED', nextCheckAt: null }, settle: 'charge' }, Date.now());
    const next = updates.next();
    resync.dispatchEvent(new Event('resync'));
    expect(statusOf(await next)).toBe('SUCCEEDED');
    expect((await updates.next()).done).toBe(true);
    database.close();
  });
});
