// When "Kling does not know this task" is believed, and the counting of answers toward it. Kling
// documents no not-found answer, and a task can appear after a lookup missed it (kling-api.md
// section 13), so one not-found never ends a task: only several, spread over a window, each asked
// by Kling's id and by ours.
import type { TaskRow } from '../db/schema.js';
import type { Store } from '../db/store.js';

export interface AbsenceRule {
  /** Not-found answers needed in a row. */
  answers: number;
  /** Time from the first of them to the last, at least. */
  windowMs: number;
}

export const DEFAULT_ABSENCE_RULE: AbsenceRule = { answers: 3, windowMs: 60_000 };

/** True once the task's recorded not-found answers confirm that Kling does not have it. */
export function absenceConfirmed(row: Pick<TaskRow, 'notFoundCount' | 'firstNotFoundAt'>, now: number, rule: AbsenceRule): boolean {
  return row.notFoundCount >= rule.answers && row.firstNotFoundAt !== null && now - row.firstNotFoundAt >= rule.windowMs;
}

/** When to ask again after a not-found, so the answers needed spread over the window. */
export function nextAbsenceCheckAt(now: number, rule: AbsenceRule): number {
  return now + Math.max(1, Math.ceil(rule.windowMs / Math.max(1, rule.answers - 1)));
}

/**
 * Records one not-found answer for the task and schedules the next look (leased `leaseMs` past it when
 * given); returns the updated row when the answers now confirm that Kling does not have the task.
 */
export async function countNotFound(
  store: Pick<Store, 'recordNotFound'>,
  row: TaskRow,
  now: number,
  rule: AbsenceRule,
  leaseMs?: number,
): Promise<TaskRow | undefined> {
  const next = nextAbsenceCheckAt(now, rule);
  const counted = await store.recordNotFound(row.id, row.status, now, next, leaseMs === undefined ? undefined : next + leaseMs);
  return counted && absenceConfirmed(counted, now, rule) ? counted : undefined;
}
