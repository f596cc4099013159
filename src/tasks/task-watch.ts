// The live view of one task: its current state first, then every committed change, ending after a
// terminal state. Listening starts before the first read, so no change can slip between the two.
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { NotFoundError } from '../errors.js';
import type { TaskListener, TaskPubSub } from './pubsub.js';
import { isTerminal } from './status.js';
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

/** What every watch of one gateway shares, so that each watch holds one reference instead of three. */
interface WatchHub {
  store: Store;
  pubsub: TaskPubSub;
  /** The watches listening now; kept only when a resync can happen. */
  live: Set<TaskWatcher> | undefined;
}

type Result = IteratorResult<TaskView, undefined>;
type Deliver = (result: Result | Promise<never>) => void;

/**
 * One watch, written out as a small state machine rather than a Repeater around an async function:
 * a gateway holds one per live subscription (ten thousand in the fan-out bench), and the Repeater,
 * the Repeater behind pubsub.subscribe(), the parked async function and its per-wait promises cost
 * about 4 KB each, against a few hundred bytes here. Like a Repeater, and unlike an async generator,
 * return() ends it at once even while a next() is pending, so an unsubscribed client leaves no listener.
 */
class TaskWatcher implements AsyncIterableIterator<TaskView> {
  /** The last version passed on; undefined until the first read. */
  private version: number | undefined;
  private started = false;
  /** A store read is in flight; events wait in `held` until it is passed on. */
  private reading = false;
  /** A resync arrived during a read, which may predate the lost events: read once more after it. */
  private rereadAfter = false;
  /** No more events will be taken; what is in `rows` is still delivered. */
  private ended = false;
  /** Passed on, not yet taken by next(). Newer versions only, so a slow consumer holds few. */
  private rows: TaskRow[] | undefined;
  /** Events that arrived during a read, judged once its row is passed on. */
  private held: TaskRow[] | undefined;
  private failure: { error: unknown } | undefined;
  private waiting: Deliver | undefined;
  /** Further next() calls made while one is already pending (none, with the usual consumers). */
  private waitingMore: Deliver[] | undefined;
  /** A function of its own: the pub/sub calls listeners without `this`, and unlisten() finds it by identity. */
  private listener: TaskListener | undefined;

  constructor(
    private readonly hub: WatchHub,
    private readonly apiKeyId: string,
    private readonly taskId: string,
  ) {}

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<Result> {
    // Starts on the first next(), as a Repeater does: an iterator nobody reads never listens.
    if (!this.started) this.start();
    const result = new Promise<Result>((resolve) => {
      if (this.waiting === undefined) this.waiting = resolve;
      else (this.waitingMore ??= []).push(resolve);
    });
    this.flush();
    return result;
  }

  return(): Promise<Result> {
    this.end();
    this.rows = undefined;
    this.failure = undefined;
    // Pending next() calls finish now rather than with an event that may never come.
    this.flush();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Events may have been lost: re-read the task, unless the watch has not started or has ended. */
  resync(): void {
    if (!this.started || this.ended) return;
    if (this.reading) this.rereadAfter = true;
    else this.startRead();
  }

  private start() {
    this.started = true;
    // Listening starts before the first read; what arrives meanwhile is held and judged after it.
    this.listener = (row) => this.receive(row);
    this.hub.pubsub.listen(this.taskId, this.listener);
    this.hub.live?.add(this);
    this.startRead();
  }

  /** Whatever goes wrong in a read ends this watch with it, as a Repeater's executor error would. */
  private startRead() {
    this.read().catch((error: unknown) => this.fail(error));
  }

  private async read(): Promise<void> {
    this.reading = true;
    const row = await this.hub.store.getTaskForKey(this.apiKeyId, this.taskId);
    this.reading = false;
    if (this.ended) return;
    if (this.version === undefined && !row) {
      this.fail(new NotFoundError(`No task ${this.taskId} for this key.`));
      return;
    }
    if (row) this.pass(row);
    const held = this.held;
    this.held = undefined;
    for (const event of held ?? []) this.receive(event);
    if (this.rereadAfter) {
      this.rereadAfter = false;
      this.startRead();
    }
  }

  private receive(row: TaskRow) {
    if (this.ended) return;
    if (this.reading) (this.held ??= []).push(row);
    else this.pass(row);
  }

  private pass(row: TaskRow) {
    // The watch's own reads overlap the events (first read, resync): only newer versions count.
    if (this.version !== undefined && row.version <= this.version) return;
    if (row.apiKeyId !== this.apiKeyId) return;
    this.version = row.version;
    (this.rows ??= []).push(row);
    if (isTerminal(row.status)) this.end();
    this.flush();
  }

  private fail(error: unknown) {
    this.failure = { error };
    this.end();
    this.flush();
  }

  /** Stops listening and lets go of everything but what is still to be delivered. */
  private end() {
    if (this.ended) return;
    this.ended = true;
    if (this.listener) this.hub.pubsub.unlisten(this.taskId, this.listener);
    this.listener = undefined;
    this.hub.live?.delete(this);
    this.held = undefined;
    this.rereadAfter = false;
  }

  /** Hands rows, then the failure, then the end to waiting next() calls, in that order. */
  private flush() {
    while (this.waiting) {
      const result = this.takeResult();
      if (result === undefined) return;
      const deliver = this.waiting;
      this.waiting = this.waitingMore?.shift();
      if (this.waitingMore?.length === 0) this.waitingMore = undefined;
      deliver(result);
    }
  }

  /** What the next waiting next() gets, or undefined while there is nothing yet. */
  private takeResult(): Result | Promise<never> | undefined {
    const row = this.rows?.shift();
    if (this.rows?.length === 0) this.rows = undefined;
    if (row !== undefined) {
      try {
        return { value: toTaskView(row), done: false };
      } catch (error) {
        this.rows = undefined;
        this.failure ??= { error };
        this.end();
      }
    }
    if (this.failure !== undefined) {
      // Thrown once, as a Repeater throws its executor's error; later calls see the end.
      const { error } = this.failure;
      this.failure = undefined;
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.ended ? { value: undefined, done: true } : undefined;
  }
}

export function createTaskWatch({ store, pubsub, resync }: TaskWatchOptions) {
  const hub: WatchHub = { store, pubsub, live: resync ? new Set() : undefined };
  resync?.addEventListener('resync', () => {
    for (const watcher of hub.live ?? []) watcher.resync();
  });
  return function watch(apiKeyId: string, taskId: string): AsyncIterableIterator<TaskView> {
    return new TaskWatcher(hub, apiKeyId, taskId);
  };
}

export type TaskWatch = ReturnType<typeof createTaskWatch>;
