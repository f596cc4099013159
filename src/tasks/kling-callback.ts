// Kling's callbacks, received on a per-task URL with a secret token. They go through the same
// guarded transition as the poller, so a callback only ever makes a change arrive sooner.
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Store } from '../db/store.js';
import { loadKlingTask } from '../kling/envelope.js';
import { nextCheckDelayMs, type CheckScheduleOptions } from './check-schedule.js';
import { eventFor } from './kling-mapping.js';
import type { TaskTransitions } from './transitions.js';

export type CallbackOutcome = 'applied' | 'unchanged' | 'unknown-task' | 'bad-body';

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function createKlingCallbackHandler(deps: {
  store: Store;
  transitions: TaskTransitions;
  clock: Clock;
  schedule: CheckScheduleOptions;
}) {
  return async function onKlingCallback(taskId: string, token: string, body: unknown): Promise<CallbackOutcome> {
    const row = await deps.store.getTask(taskId);
    // An unknown task and a wrong token look the same from outside.
    if (!row || !sameSecret(row.callbackToken, token)) return 'unknown-task';
    let kling;
    try {
      kling = loadKlingTask(body);
    } catch {
      return 'bad-body';
    }
    if (row.klingTaskId !== null && kling.taskId !== row.klingTaskId) return 'bad-body';
    const now = deps.clock.now();
    const { event, facts } = eventFor(row, kling, now + nextCheckDelayMs(0, deps.schedule));
    return (await deps.transitions.fire(row, event, facts)) ? 'applied' : 'unchanged';
  };
}

export type KlingCallbackHandler = ReturnType<typeof createKlingCallbackHandler>;
