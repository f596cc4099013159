// The live view of one task: its current state first, then every committed change, ending after a
// terminal state. Listening starts before the first read, so no change can slip between the two.
import { Repeater } from '@graphql-yoga/subscription';
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { NotFoundError } from '../errors.js';
import type { TaskPubSub } from './pubsub.js';
import { isTerminal, type TaskStatus } from './status.js';
import { toTaskView, type TaskView } from './task-view.js';

export interface TaskWatchOptions {
  store: Store;
  pubsub: TaskPubSub;
  /**
   * Fires `resync` when events may have been lost (the Redis subscription reconnected): every live
   * watch then re-reads its task, so no subscriber is left silently stale.
   */
  resync?: EventTarget | undefined;
}

export function createTaskWatch({ store, pubsub, resync }: TaskWatchOptions) {
  // Counted, not just signalled: a resync that lands while a watch is between two waits still counts.
  let resyncs = 0;
  const waiting = new Set<() => void>();
  resync?.addEventListener('resync', () => {
    resyncs += 1;
    for (const wake of waiting) wake();
  });
  /** Resolves once a resync happened after `seen`; `cancel` forgets the waiter. */
  const resyncAfter = (seen: number) => {
    let wake: () => void = () => undefined;
    const promise = new Promise<{ resync: true }>((resolve) => {
      wake = () => resolve({ resync: true });
      if (resyncs > seen) wake();
      else waiting.add(wake);
    });
    return { promise, cancel: () => waiting.delete(wake) };
  };

  // A Repeater, not an async generator: a generator parked on `await` cannot be returned until its
  // next event arrives, which would keep the listener of an unsubscribed client alive indefinitely.
  return function watch(apiKeyId: string, taskId: string): AsyncIterableIterator<TaskView> {
    return new Repeater<TaskView>(async (push, stop) => {
      const events = pubsub.subscribe('task:updated', taskId)[Symbol.asyncIterator]();
      const stopped = stop.then(() => ({ done: true as const, value: undefined }));
      try {
        // The first next() attaches the listener; it settles with the first event after this point.
        let pending = events.next();
        let seenResyncs = resyncs;
        const current = await store.getTaskForKey(apiKeyId, taskId);
        if (!current) throw new NotFoundError(`No task ${taskId} for this key.`);
        await push(toTaskView(current));
        let version = current.version;
        let status = current.status as TaskStatus;
        while (!isTerminal(status)) {
          const lost = resyncAfter(seenResyncs);
          const next = await Promise.race([pending, stopped, lost.promise]);
          lost.cancel();
          if ('resync' in next) {
            seenResyncs = resyncs;
            const reread = await store.getTaskForKey(apiKeyId, taskId);
            if (reread && reread.version > version) {
              version = reread.version;
              status = reread.status as TaskStatus;
              await push(toTaskView(reread));
            }
            continue;
          }
          if (next.done) return;
          const row: TaskRow = next.value;
          // Events may arrive out of order or twice (several writers, Redis); only newer versions count.
          if (row.version > version && row.apiKeyId === apiKeyId) {
            version = row.version;
            status = row.status as TaskStatus;
            await push(toTaskView(row));
          }
          pending = events.next();
        }
        stop();
      } finally {
        await events.return();
      }
    });
  };
}

export type TaskWatch = ReturnType<typeof createTaskWatch>;
