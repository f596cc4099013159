// Task notices between two pub/subs on one event target, as two instances on one Redis: a notice
// carries the id and version only, each instance reads the row once per notice for all its listeners,
// and no listener sees an older state after a newer one.
import { describe, expect, it } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { systemClock } from '../../src/clock.js';
import { openSqlite } from '../../src/db/connection.js';
import type { TaskRow } from '../../src/db/schema.js';
import { createStore } from '../../src/db/store.js';
import { createTaskPubSub, taskTopic, type TaskNotice } from '../../src/tasks/pubsub.js';
import { CountingEventTarget } from '../helpers/counting-event-target.js';
import { onTeardown } from '../helpers/leftovers.js';

async function setUp() {
  const database = openSqlite(':memory:');
  onTeardown(() => database.close());
  const store = createStore(database.dialect);
  const { account } = await createApiKeys({ store, clock: systemClock }).create('notices', 1_000);
  const now = Date.now();
  const inserted = await store.insertTaskWithHold({
    id: 'vt_notices',
    apiKeyId: account.id,
    status: 'SUBMITTED',
    prompt: 'A secret prompt',
    model: 'KLING_V2_MASTER',
    mode: 'STANDARD',
    aspectRatio: 'RATIO_16_9',
    durationSeconds: 5,
    generateAudio: false,
    inputFingerprint: 'f',
    credits: 100,
    callbackToken: 'secret-callback-token',
    createdAt: now,
    updatedAt: now,
    deadlineAt: now + 60_000,
    nextCheckAt: now,
  });
  expect(inserted.kind).toBe('created');
  /** Commits one more change (a version bump) and returns the new row. */
  const change = async (): Promise<TaskRow> => {
    const row = await store.transition('vt_notices', { from: ['SUBMITTED', 'PROCESSING'], set: { status: 'PROCESSING' } }, Date.now());
    if (!row) throw new Error('no change');
    return row;
  };

  // Instance B's reads: each takes the row at once, then waits for the test to let it return, so
  // the test decides what happens while a read is in flight.
  const releases: (() => void)[] = [];
  let reads = 0;
  let readStarted: () => void = () => undefined;
  const read = async (id: string) => {
    const row = await store.getTask(id);
    reads += 1;
    readStarted();
    await new Promise<void>((resolve) => releases.push(resolve));
    return row;
  };
  const nextRead = () => new Promise<void>((resolve) => (readStarted = resolve));
  const release = () => releases.shift()?.();

  const wire = new EventTarget();
  const sent: unknown[] = [];
  wire.addEventListener(taskTopic('vt_notices'), (event) => sent.push((event as CustomEvent<TaskNotice>).detail));
  const a = createTaskPubSub({ read: (id) => store.getTask(id), eventTarget: wire });
  const b = createTaskPubSub({ read, eventTarget: wire });

  /** A listener on B that records the versions it gets and resolves `until(n)` on the n-th. */
  const listenOnB = () => {
    const versions: number[] = [];
    let wake: () => void = () => undefined;
    let wanted = 0;
    b.listen('vt_notices', (row) => {
      expect(row.callbackToken).toBe('secret-callback-token'); // the full row, read within the process
      versions.push(row.version);
      if (versions.length >= wanted) wake();
    });
    const until = (count: number) =>
      new Promise<number[]>((resolve) => {
        wanted = count;
        wake = () => resolve(versions);
        if (versions.length >= count) resolve(versions);
      });
    return { versions, until };
  };

  return { a, b, change, sent, reads: () => reads, nextRead, release, listenOnB };
}

describe('task notices', () => {
  it('sends only id and version, and reads the row once per notice for all of an instance’s listeners', async () => {
    const { a, change, sent, reads, nextRead, release, listenOnB } = await setUp();
    const listeners = [listenOnB(), listenOnB(), listenOnB()];

    const started = nextRead();
    a.publish(await change());
    expect(sent).toEqual([{ taskId: 'vt_notices', version: 2 }]);
    await started;
    release();
    for (const listener of listeners) expect(await listener.until(1)).toEqual([2]);
    expect(reads()).toBe(1);
  });

  it('drops notices of versions already passed on, without a read', async () => {
    const { a, b, change, reads, nextRead, release, listenOnB } = await setUp();
    const listener = listenOnB();
    const started = nextRead();
    a.publish(await change());
    await started;
    release();
    await listener.until(1);
    // B's own change goes out from the row it holds; its notice coming back, and the same notice
    // again (Redis delivers what it is sent, writers may repeat), need no read.
    const third = await change();
    b.publish(third);
    a.publish(third);
    expect(listener.versions).toEqual([2, 3]);
    expect(reads()).toBe(1);
  });

  it('reads once more for notices that came during a read, and never passes an older row after a newer', async () => {
    const { a, b, change, reads, nextRead, release, listenOnB } = await setUp();
    const listener = listenOnB();

    let started = nextRead();
    a.publish(await change()); // v2: B's read takes the row and is held
    await started;
    a.publish(await change()); // v3 and v4 while it is held: one more read covers both
    a.publish(await change());
    started = nextRead();
    release();
    await started;
    expect(listener.versions).toEqual([2]);
    // B's own v5 goes to its listeners at once; the held read's v4 then counts for nothing.
    b.publish(await change());
    expect(listener.versions).toEqual([2, 5]);
    release();
    a.publish(await change()); // v6: read, and passed on after v5
    started = nextRead();
    await started;
    release();
    expect(await listener.until(3)).toEqual([2, 5, 6]);
    expect(reads()).toBe(3);
  });

  it('keeps one listener per task on the event target, and none once the last local listener left', async () => {
    const wire = new CountingEventTarget();
    const failures: unknown[] = [];
    const c = createTaskPubSub({ read: () => Promise.reject(new Error('no read expected')), eventTarget: wire, onReadError: (e) => failures.push(e) });
    const seen: number[] = [];
    const one = (row: TaskRow) => seen.push(row.version);
    const two = (row: TaskRow) => seen.push(row.version);
    c.listen('vt_other', one);
    c.listen('vt_other', two);
    expect(wire.listenersOfTask('vt_other')).toBe(1);
    c.unlisten('vt_other', one);
    expect(wire.listenersOfTask('vt_other')).toBe(1);
    c.unlisten('vt_other', two);
    expect(wire.listenersOfTask('vt_other')).toBe(0);
    // Nobody here listens any more, so a notice costs no read.
    wire.dispatchEvent(new CustomEvent(taskTopic('vt_other'), { detail: { taskId: 'vt_other', version: 9 } }));
    await Promise.resolve();
    expect({ seen, failures }).toEqual({ seen: [], failures: [] });
  });
});
