// One event per committed task change. The event carries the row, so a subscriber needs no read of
// its own; it is plain JSON, so a Redis event target can carry it between instances unchanged.
import { createPubSub, type PubSubEvent, type PubSubEventTarget } from '@graphql-yoga/subscription';
import type { TaskRow } from '../db/schema.js';

export type TaskTopics = {
  'task:updated': [taskId: string, task: TaskRow];
};

export type TaskEventTarget = PubSubEventTarget<TaskTopics>;

export type TaskEventListener = (event: PubSubEvent<TaskTopics, 'task:updated'>) => void;

/** The event type createPubSub dispatches `publish('task:updated', taskId, row)` under. */
const topicOf = (taskId: string) => `task:updated:${taskId}`;

export function createTaskPubSub(eventTarget?: TaskEventTarget) {
  // Made here rather than inside createPubSub (which would make the same), so listen() reaches it.
  const target: TaskEventTarget = eventTarget ?? new EventTarget();
  return {
    ...createPubSub<TaskTopics>({ eventTarget: target }),
    /**
     * Calls `listener` with every event for `taskId` until unlisten() gets the same pair. The
     * listener sits on the event target itself: subscribe() would wrap it in a Repeater with its
     * own promises and closures, which a live subscription would hold for its whole life.
     */
    listen(taskId: string, listener: TaskEventListener): void {
      target.addEventListener(topicOf(taskId), listener);
    },
    unlisten(taskId: string, listener: TaskEventListener): void {
      target.removeEventListener(topicOf(taskId), listener);
    },
  };
}

export type TaskPubSub = ReturnType<typeof createTaskPubSub>;
