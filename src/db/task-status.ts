// Task states and which of them the gateway still has work to do for. They live with the data layer,
// which stores them (the tasks.status column is typed by this list); src/tasks/status.ts re-exports them.
export const TASK_STATUSES = ['QUEUED', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'] as const satisfies readonly TaskStatus[];
/** States in which Kling holds the task (and one of the key's slots there). */
export const AT_KLING_STATUSES = ['SUBMITTED', 'PROCESSING'] as const satisfies readonly TaskStatus[];
export const OPEN_STATUSES = ['QUEUED', ...AT_KLING_STATUSES] as const satisfies readonly TaskStatus[];

export function isTerminal(status: TaskStatus): boolean {
  return (TERMINAL_STATUSES as readonly TaskStatus[]).includes(status);
}
