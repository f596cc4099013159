// What the poller asks of the store: due tasks leased to one instance at a time, when the next one
// comes due, rescheduling an open task, and tasks past their deadline.
import { and, eq, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { SqliteDb } from '../dialect.js';
import type { TaskRow } from '../schema.js';
import type { TaskStatus } from '../task-status.js';
import { first, toNumber, type StoreContext } from './context.js';
import type { Slots } from './slots.js';

/** Columns a reschedule may set along with the next check. */
export type ScheduleExtras = Partial<Pick<TaskRow, 'upstreamRefusal' | 'notFoundCount' | 'firstNotFoundAt' | 'submitSentAt'>>;

export function createPolling({ dialect, run, transaction, lockKeyOf }: StoreContext, { releaseSlot }: Slots) {
  const { tasks } = dialect.tables;

  return {
    /**
     * Takes up to `limit` due tasks that are this instance's or nobody's (no lease, or an expired one),
     * oldest due first, and leases them to `owner`: their next check moves `leaseMs` ahead, so no
     * other poller touches them, and a poller that dies simply lets its leases run out.
     */
    async claimDueTasks(now: number, limit: number, leaseMs: number, owner: string): Promise<TaskRow[]> {
      return transaction(async (tx) => {
        const due = await dialect.skipLocked(
          tx
            .select({ id: tasks.id })
            .from(tasks)
            .where(
              and(
                isNotNull(tasks.nextCheckAt),
                lte(tasks.nextCheckAt, now),
                or(isNull(tasks.leaseOwner), eq(tasks.leaseOwner, owner), lt(tasks.leaseExpiresAt, now)),
              ),
            )
            .orderBy(tasks.nextCheckAt)
            .limit(limit),
        );
        if (due.length === 0) return [];
        return tx
          .update(tasks)
          .set({ nextCheckAt: now + leaseMs, leaseOwner: owner, leaseExpiresAt: now + leaseMs })
          .where(
            inArray(
              tasks.id,
              due.map((r) => r.id),
            ),
          )
          .returning();
      });
    },

    /** When the next task comes due, or null when nothing is open. */
    async nextDueAt(): Promise<number | null> {
      return run(async (db) => {
        const row = first(await db.select({ at: sql<string | number | null>`min(${tasks.nextCheckAt})` }).from(tasks));
        return row?.at === null || row?.at === undefined ? null : toNumber(row.at);
      });
    },

    /**
     * Sets when to look at an open task next, without it counting as a change (no version bump),
     * and keeps the task leased to whoever holds it until `leaseUntil`. A QUEUED task put back to
     * wait gives back the slot its failed submit had taken, unless Kling may have that create.
     */
    async reschedule(
      id: string,
      status: TaskStatus,
      nextCheckAt: number,
      checkAttempts: number,
      leaseUntil?: number,
      also: ScheduleExtras = {},
    ): Promise<boolean> {
      const schedule = (db: SqliteDb) =>
        db
          .update(tasks)
          .set({ ...also, nextCheckAt, checkAttempts, ...(leaseUntil !== undefined ? { leaseExpiresAt: leaseUntil } : {}) })
          .where(and(eq(tasks.id, id), eq(tasks.status, status)))
          .returning({ id: tasks.id });
      if (status !== 'QUEUED') return run(async (db) => (await schedule(db)).length > 0);
      return transaction(async (tx) => {
        const apiKeyId = await lockKeyOf(tx, id);
        if (apiKeyId === undefined) return false;
        const scheduled = (await schedule(tx)).length > 0;
        // Only while the task is still queued, and only if no create of it may have reached Kling
        // (`also` may just have said so): a task Kling may hold keeps its slot until it is settled.
        await releaseSlot(tx, id, apiKeyId, 'QUEUED', true);
        return scheduled;
      });
    },

    /**
     * Counts one "not found" from Kling for a task still in `status` (no version bump: nothing users
     * see changed) and sets its next look; returns the row, whose counters say whether the absence is
     * confirmed (tasks/absence.ts).
     */
    async recordNotFound(id: string, status: TaskStatus, now: number, nextCheckAt: number, leaseUntil?: number): Promise<TaskRow | undefined> {
      return run(async (db) =>
        first(
          await db
            .update(tasks)
            .set({
              notFoundCount: sql`${tasks.notFoundCount} + 1`,
              firstNotFoundAt: sql`coalesce(${tasks.firstNotFoundAt}, ${now})`,
              nextCheckAt,
              ...(leaseUntil !== undefined ? { leaseExpiresAt: leaseUntil } : {}),
            })
            .where(and(eq(tasks.id, id), eq(tasks.status, status)))
            .returning(),
        ),
      );
    },

    /**
     * Records a cancel asked for while the task's submit may have reached Kling; only while it is
     * still QUEUED. Returns the row, or undefined when the task has moved on.
     */
    async requestCancel(id: string, now: number): Promise<TaskRow | undefined> {
      return run(async (db) =>
        first(
          await db
            .update(tasks)
            .set({ cancelRequestedAt: sql`coalesce(${tasks.cancelRequestedAt}, ${now})`, nextCheckAt: now })
            .where(and(eq(tasks.id, id), eq(tasks.status, 'QUEUED')))
            .returning(),
        ),
      );
    },

    /** Open tasks past their deadline. */
    async overdueTasks(now: number, limit: number): Promise<TaskRow[]> {
      return run((db) =>
        db
          .select()
          .from(tasks)
          .where(and(isNotNull(tasks.nextCheckAt), lte(tasks.deadlineAt, now)))
          .limit(limit),
      );
    },
  };
}
