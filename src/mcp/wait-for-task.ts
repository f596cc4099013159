// Waits, up to a deadline, for a task to reach a final state. Driven by the same live view as the
// taskUpdated subscription, so the answer comes the moment the poller (or Kling's callback) records
// the result, and no extra reads hit the store while waiting.
import type { Clock } from '../clock.js';
import { isTerminal } from '../tasks/status.js';
import type { TaskView } from '../tasks/task-view.js';
import type { TaskWatch } from '../tasks/task-watch.js';

export interface WaitOptions {
  /** How long to wait for a final state, in milliseconds. */
  timeoutMs: number;
  /** Aborted when the caller went away: stop waiting at once. */
  signal?: AbortSignal | undefined;
  /** Told of every state seen while waiting, the current one first. */
  onUpdate?: ((task: TaskView) => void) | undefined;
}

export interface WaitOutcome {
  /** The latest state seen. */
  task: TaskView;
  /** False when the deadline passed (or the caller left) before a final state. */
  finished: boolean;
}

export function createTaskWaiter({ watch, clock }: { watch: TaskWatch; clock: Clock }) {
  return async function waitForTask(apiKeyId: string, submitted: TaskView, options: WaitOptions): Promise<WaitOutcome> {
    let latest = submitted;
    if (isTerminal(latest.status) || options.timeoutMs <= 0 || options.signal?.aborted) {
      return { task: latest, finished: isTerminal(latest.status) };
    }
    const ended = new AbortController();
    const onAbort = () => ended.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Settles either way, so the race below needs no rejection handling; aborting it frees the timer.
    const deadline = clock.sleep(options.timeoutMs, ended.signal).then(
      () => 'deadline' as const,
      () => 'deadline' as const,
    );
    const updates = watch(apiKeyId, submitted.id);
    try {
      for (;;) {
        const next = await Promise.race([updates.next(), deadline]);
        if (next === 'deadline' || next.done) break;
        latest = next.value;
        options.onUpdate?.(latest);
      }
      return { task: latest, finished: isTerminal(latest.status) };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      ended.abort();
      // Detaches the watch's listener even while its next() is still pending.
      await updates.return?.();
    }
  };
}

export type TaskWaiter = ReturnType<typeof createTaskWaiter>;
