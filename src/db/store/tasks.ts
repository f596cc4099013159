// Tasks: the insert that holds the price (and maybe a slot) in one transaction, reads by id, the
// key's task list, and the stored video links.
import { and, asc, desc, eq, gt, gte, inArray, lte, or, sql, type SQL } from 'drizzle-orm';
import type { NewTaskRow, TaskRow } from '../schema.js';
import type { TaskStatus } from '../task-status.js';
import { defined, first, placeholders, toBoolean, type StoreContext, type TaskPosition } from './context.js';
import type { Ledger } from './ledger.js';
import type { Slots } from './slots.js';

export type InsertTaskOutcome =
  | { kind: 'created'; task: TaskRow }
  | { kind: 'replayed'; task: TaskRow }
  | { kind: 'idempotency-conflict' }
  | { kind: 'insufficient-credits'; available: number };

/** A new task may take one of its key's slots at Kling right away; the submit may take until `until`. */
export interface SlotRequest {
  maxActive: number;
  until: number;
}

export interface TaskListFilter {
  statuses?: readonly TaskStatus[] | undefined;
  model?: string | undefined;
  createdFrom?: number | undefined;
  createdTo?: number | undefined;
}

export interface TaskPage {
  limit: number;
  /** Only rows strictly older than this (createdAt, id) position. */
  olderThan?: TaskPosition | undefined;
  /** Only rows strictly newer than this position. */
  newerThan?: TaskPosition | undefined;
  /** Newest first unless set. */
  oldestFirst?: boolean | undefined;
  filter?: TaskListFilter | undefined;
}

/**
 * Unique-index violations, in both dialects' words. drizzle wraps the driver's error in its own
 * (DrizzleQueryError, with the driver's as `cause`), so the whole cause chain is looked at.
 */
function isUniqueViolation(error: unknown): boolean {
  for (let cause = error, depth = 0; typeof cause === 'object' && cause !== null && depth < 8; depth++) {
    const { code } = cause as { code?: unknown };
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE') return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

export function createTaskQueries(
  { dialect, run, transaction, byShape, createdBefore }: StoreContext,
  { ledger, holdCredits }: Ledger,
  { anyWaiting, changeSlots }: Slots,
) {
  const { apiKeys, tasks } = dialect.tables;

  // Built once and without a LIMIT, like the key reads in api-keys.ts (the reasons are there).
  const taskById = dialect.prepare<TaskRow>(
    'task_by_id',
    dialect.db.select().from(tasks).where(eq(tasks.id, sql.placeholder('id'))),
  );
  const taskByKey = dialect.prepare<TaskRow>(
    'task_by_key',
    dialect.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, sql.placeholder('id')), eq(tasks.apiKeyId, sql.placeholder('key')))),
  );

  return {
    /**
     * Holds the price and records the task in one transaction; replays and conflicts hold nothing.
     * With `slot`, the new task also takes one of its key's slots at Kling in that transaction when one
     * is free and no older task of the key is waiting for it (the task then has `holdsSlot`).
     */
    async insertTaskWithHold(row: NewTaskRow & { createdAt: number }, slot?: SlotRequest): Promise<InsertTaskOutcome> {
      const attempt = () =>
        transaction(async (tx): Promise<InsertTaskOutcome> => {
          if (row.idempotencyKey) {
            const existing = first(
              await tx
                .select()
                .from(tasks)
                .where(and(eq(tasks.apiKeyId, row.apiKeyId), eq(tasks.idempotencyKey, row.idempotencyKey)))
                .limit(1),
            );
            if (existing) {
              return existing.inputFingerprint === row.inputFingerprint
                ? { kind: 'replayed', task: existing }
                : { kind: 'idempotency-conflict' };
            }
          }
          const held = first(await holdCredits(tx, { apiKeyId: row.apiKeyId, credits: row.credits }));
          if (!held) {
            const account = first(
              await tx.select({ balance: apiKeys.creditBalance }).from(apiKeys).where(eq(apiKeys.id, row.apiKeyId)).limit(1),
            );
            return { kind: 'insufficient-credits', available: account?.balance ?? 0 };
          }
          // The key's row is locked by the hold above, so the slot count cannot move under us.
          const takesSlot =
            slot !== undefined &&
            held.slotsInUse < slot.maxActive &&
            !toBoolean(first(await anyWaiting(tx, { apiKeyId: row.apiKeyId }))?.waiting);
          // Its submit follows at once: from here on a create may reach Kling.
          const values = defined(
            takesSlot ? { ...row, holdsSlot: true, submittingUntil: slot.until, submitSentAt: row.createdAt } : { ...row, holdsSlot: false },
          );
          const insert = byShape('task_insert', values, (db) => db.insert(tasks).values(placeholders(values) as NewTaskRow).returning());
          const [task] = insert ? await insert(tx, values) : await tx.insert(tasks).values(values as NewTaskRow).returning();
          if (takesSlot) await changeSlots(tx, row.apiKeyId, 1);
          await ledger(tx, row.apiKeyId, row.id, 'hold', row.credits, row.createdAt);
          return { kind: 'created', task: task as TaskRow };
        });
      try {
        return await attempt();
      } catch (error) {
        // Two requests with one idempotency key raced (PostgreSQL): the loser's insert hit the unique
        // index and rolled back whole; running again finds the winner's task and replays it.
        if (row.idempotencyKey && isUniqueViolation(error)) return attempt();
        throw error;
      }
    },

    async getTask(id: string): Promise<TaskRow | undefined> {
      return first(await taskById({ id }));
    },

    async getTaskForKey(apiKeyId: string, id: string): Promise<TaskRow | undefined> {
      return first(await taskByKey({ id, key: apiKeyId }));
    },

    async listTasksForKey(apiKeyId: string, page: TaskPage): Promise<TaskRow[]> {
      const conditions: SQL[] = [eq(tasks.apiKeyId, apiKeyId)];
      const f = page.filter;
      if (f?.statuses && f.statuses.length > 0) conditions.push(inArray(tasks.status, [...f.statuses]));
      if (f?.model) conditions.push(eq(tasks.model, f.model));
      if (f?.createdFrom !== undefined) conditions.push(gte(tasks.createdAt, f.createdFrom));
      if (f?.createdTo !== undefined) conditions.push(lte(tasks.createdAt, f.createdTo));
      const o = page.olderThan;
      const n = page.newerThan;
      const older = o && createdBefore(o);
      const newer = n && or(gt(tasks.createdAt, n.createdAt), and(eq(tasks.createdAt, n.createdAt), gt(tasks.id, n.id)));
      if (older) conditions.push(older);
      if (newer) conditions.push(newer);
      return run((db) =>
        db
          .select()
          .from(tasks)
          .where(and(...conditions))
          .orderBy(...(page.oldestFirst ? [asc(tasks.createdAt), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)]))
          .limit(page.limit),
      );
    },

    /** Replaces the stored video URLs (renewed upstream links); not a state change, so no version bump. */
    async updateVideos(id: string, videos: string): Promise<void> {
      await run((db) => db.update(tasks).set({ videos }).where(eq(tasks.id, id)));
    },
  };
}
