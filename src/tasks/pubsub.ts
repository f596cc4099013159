// Task changes, told to every listener of the task on every instance. What crosses the event target
// (Redis, when scaled out) is only a notice, `{ taskId, version }`: a row holds the callback token,
// the prompt and the webhook URL, none of which may leave the process. An instance that hears of a
// version newer than it has passed on reads the row once, for all of its listeners of that task; the
// instance that made the change already holds the row and passes it on without a read.
import type { TaskRow } from '../db/schema.js';

/** All that is published about a change. `version` goes up by one with every committed change. */
export interface TaskNotice {
  taskId: string;
  version: number;
}

export type TaskNoticeEvent = CustomEvent<TaskNotice>;
/** Takes any Event, so a plain EventTarget (or a test's subclass) is a TaskEventTarget as it is. */
type NoticeListener = (event: Event) => void;

/** A plain EventTarget, or the Redis event target that carries notices between instances. */
export interface TaskEventTarget {
  addEventListener(type: string, listener: NoticeListener): void;
  removeEventListener(type: string, listener: NoticeListener): void;
  dispatchEvent(event: TaskNoticeEvent): boolean;
}

/** Called with each newer row of the task, never an older one after a newer. */
export type TaskListener = (row: TaskRow) => void;

/** The channel (event type) of one task's notices. */
export const taskTopic = (taskId: string) => `task:updated:${taskId}`;

/** One task that something on this instance listens to. */
interface Feed {
  /** Usually one (a subscription per task); an array costs less than a Set at that size. */
  listeners: TaskListener[];
  /** The last version passed on; undefined until the first. */
  version: number | undefined;
  /** The newest version a notice announced. */
  wanted: number;
  /** A store read is in flight; notices meanwhile only raise `wanted`. */
  reading: boolean;
}

export interface TaskPubSubOptions {
  /** Reads the current row of a task another instance changed. */
  read: (taskId: string) => Promise<TaskRow | undefined>;
  eventTarget?: TaskEventTarget | undefined;
  /** Told when such a read failed; the listeners catch up with the task's next notice or a resync. */
  onReadError?: ((error: unknown, taskId: string) => void) | undefined;
}

export function createTaskPubSub({ read, eventTarget, onReadError }: TaskPubSubOptions) {
  const target: TaskEventTarget = eventTarget ?? new EventTarget();
  const feeds = new Map<string, Feed>();

  const pass = (feed: Feed, row: TaskRow) => {
    // A slow read or a late local publish may carry an older version than one already passed on.
    if (feed.version !== undefined && row.version <= feed.version) return;
    feed.version = row.version;
    if (feed.listeners.length === 1) feed.listeners[0]?.(row);
    // A copy: a listener that sees a terminal state unlistens while we iterate.
    else for (const listener of [...feed.listeners]) listener(row);
  };

  const catchUp = async (taskId: string, feed: Feed) => {
    feed.reading = true;
    try {
      let asked: number;
      do {
        asked = feed.wanted;
        const row = await read(taskId);
        // Everybody left during the read (a new listener has a feed of its own).
        if (feeds.get(taskId) !== feed) return;
        if (row) pass(feed, row);
        // Notices during the read may postdate it: one more read covers all of them.
      } while (feed.wanted > asked && (feed.version ?? 0) < feed.wanted);
    } finally {
      feed.reading = false;
    }
  };

  // One function for every topic, so a listened-to task costs no closure of its own.
  const onNotice: NoticeListener = (event) => {
    const { taskId, version } = (event as TaskNoticeEvent).detail;
    const feed = feeds.get(taskId);
    if (!feed || version <= Math.max(feed.version ?? 0, feed.wanted)) return;
    feed.wanted = version;
    if (!feed.reading) catchUp(taskId, feed).catch((error: unknown) => onReadError?.(error, taskId));
  };

  return {
    /** Passes `row` to this instance's listeners and tells every other instance its id and version. */
    publish(row: TaskRow): void {
      const feed = feeds.get(row.id);
      if (feed) pass(feed, row);
      const notice: TaskNotice = { taskId: row.id, version: row.version };
      target.dispatchEvent(new CustomEvent(taskTopic(row.id), { detail: notice }));
    },
    /** Calls `listener` with every newer row of `taskId` until unlisten() gets the same pair. */
    listen(taskId: string, listener: TaskListener): void {
      const feed = feeds.get(taskId);
      if (feed) {
        feed.listeners.push(listener);
        return;
      }
      feeds.set(taskId, { listeners: [listener], version: undefined, wanted: 0, reading: false });
      target.addEventListener(taskTopic(taskId), onNotice);
    },
    unlisten(taskId: string, listener: TaskListener): void {
      const feed = feeds.get(taskId);
      const at = feed?.listeners.indexOf(listener) ?? -1;
      if (!feed || at < 0) return;
      feed.listeners.splice(at, 1);
      if (feed.listeners.length > 0) return;
      feeds.delete(taskId);
      target.removeEventListener(taskTopic(taskId), onNotice);
    },
    /** How many listeners this instance has for `taskId` (the event target has one at most). */
    listenerCount(taskId: string): number {
      return feeds.get(taskId)?.listeners.length ?? 0;
    },
  };
}

export type TaskPubSub = ReturnType<typeof createTaskPubSub>;
