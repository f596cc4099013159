// Task states and which of them the gateway still has work to do for, and how a task can fail.
// The states belong to the data layer, which stores them (src/db/task-status.ts); re-exported here so
// the rest of the gateway keeps importing them from one place.
export {
  AT_KLING_STATUSES,
  isTerminal,
  OPEN_STATUSES,
  TASK_STATUSES,
  TERMINAL_STATUSES,
  type TaskStatus,
} from '../db/task-status.js';

export const FAILURE_CODES = [
  'CONTENT_POLICY',
  'INVALID_INPUT',
  'UPSTREAM_ERROR',
  'UPSTREAM_TASK_LOST',
  'TIMEOUT',
  // No Kling account would take the task before its deadline (balance, arrears, permission); refunded.
  'UPSTREAM_UNAVAILABLE',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface TaskFailure {
  code: FailureCode;
  message: string;
  retryable: boolean;
}
