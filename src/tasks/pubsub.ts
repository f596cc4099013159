// One event per committed task change. The event carries the row, so a subscriber needs no read of
// its own; it is plain JSON, so a Redis event target can carry it between instances unchanged.
import { createPubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import type { TaskRow } from '../db/schema.js';

export type TaskTopics = {
  'task:updated': [taskId: string, task: TaskRow];
};

export type TaskEventTarget = PubSubEventTarget<TaskTopics>;

export function createTaskPubSub(eventTarget?: TaskEventTarget) {
  return createPubSub<TaskTopics>(eventTarget ? { eventTarget } : {});
}

export type TaskPubSub = ReturnType<typeof createTaskPubSub>;
