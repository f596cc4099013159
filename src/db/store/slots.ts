// A key's slots at Kling: the per-key counter (api_keys.slots_in_use) beside the tasks that hold a
// slot, the reservation before a submit, and the queue of tasks waiting for one.
import { and, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import type { SqliteDb } from '../dialect.js';
import type { TaskRow } from '../schema.js';
import type { TaskStatus } from '../task-status.js';
import { first, toNumber, type StoreContext, type TaskPosition } from './context.js';

/** The slot bookkeeping that inserts, status changes and reschedules run inside their own transactions. */
export function createSlots({ dialect, waitingIn, createdBefore }: StoreContext) {
  const { apiKeys, tasks } = dialect.tables;
  const placeholder = sql.placeholder;
  const slotsChange = dialect.prepareIn<{ id: string }>('slots_change', (db) =>
    db
      .update(apiKeys)
      .set({ slotsInUse: sql`${apiKeys.slotsInUse} + ${placeholder('by')}` })
      .where(eq(apiKeys.id, placeholder('apiKeyId')))
      .returning({ id: apiKeys.id }),
  );
  const anyWaiting = dialect.prepareIn<{ waiting: unknown }>('any_waiting', (db) =>
    db
      .select({
        waiting: sql`exists (select 1 from ${tasks} where ${waitingIn(placeholder('apiKeyId'))})`,
      })
      .from(apiKeys)
      .where(eq(apiKeys.id, placeholder('apiKeyId'))),
  );

  const changeSlots = (tx: SqliteDb, apiKeyId: string, by: 1 | -1) => slotsChange(tx, { apiKeyId, by });

  /**
   * Gives the task's slot back to its key, once: only the writer that clears holds_slot decrements.
   * The caller holds the key's lock. `status` further limits it to a task still in that state, and
   * `onlyIfUnsent` to a task no create of which may have reached Kling.
   */
  const releaseSlot = async (tx: SqliteDb, taskId: string, apiKeyId: string, status?: TaskStatus, onlyIfUnsent = false) => {
    const released = await tx
      .update(tasks)
      .set({ holdsSlot: false, submittingUntil: null })
      .where(
        and(
          eq(tasks.id, taskId),
          eq(tasks.holdsSlot, true),
          status ? eq(tasks.status, status) : undefined,
          onlyIfUnsent ? isNull(tasks.submitSentAt) : undefined,
        ),
      )
      .returning({ id: tasks.id });
    if (released.length > 0) await changeSlots(tx, apiKeyId, -1);
  };

  /**
   * The key's tasks waiting for a slot that are older than `than`, counted up to `upTo`: the answer
   * only has to say whether they fill the free slots.
   */
  const olderWaiting = async (tx: SqliteDb, apiKeyId: string, than: TaskPosition, upTo: number) => {
    const bounded = tx
      .select({ one: sql`1`.as('one') })
      .from(tasks)
      .where(and(waitingIn(apiKeyId), createdBefore(than)))
      .limit(upTo)
      .as('bounded');
    const [row] = await tx.select({ n: sql`count(*)` }).from(bounded);
    return toNumber(row?.n ?? 0);
  };

  return { anyWaiting, changeSlots, releaseSlot, olderWaiting };
}

export type Slots = ReturnType<typeof createSlots>;

/** The store's slot methods: a reservation before a submit, waking the queue, a task's place in it. */
export function createSlotQueries({ dialect, run, transaction, waitingIn, createdBefore }: StoreContext, { changeSlots, olderWaiting }: Slots) {
  const { apiKeys, tasks } = dialect.tables;

  return {
    /**
     * Takes one of the key's `maxActive` slots at Kling for a QUEUED task about to be submitted, if the
     * task is next in line. Exact across instances: the key's row is locked while its slot count is
     * read and changed. First in, first out: older waiting tasks get the free slots first. A task that
     * already holds a slot (its earlier submit may have reached Kling) keeps it.
     */
    async reserveSubmitSlot(
      task: Pick<TaskRow, 'id' | 'apiKeyId' | 'createdAt'>,
      maxActive: number,
      until: number,
      now: number,
    ): Promise<boolean> {
      return transaction(async (tx) => {
        const key = first(
          await dialect.forUpdate(tx.select({ slotsInUse: apiKeys.slotsInUse }).from(apiKeys).where(eq(apiKeys.id, task.apiKeyId))),
        );
        const current = first(
          await tx
            .select({ status: tasks.status, holdsSlot: tasks.holdsSlot, deadlineAt: tasks.deadlineAt, cancelRequestedAt: tasks.cancelRequestedAt })
            .from(tasks)
            .where(eq(tasks.id, task.id)),
        );
        // Past its deadline or canceled, a task is never sent again: it is settled from what Kling has.
        if (!key || current?.status !== 'QUEUED' || current.deadlineAt <= now || current.cancelRequestedAt !== null) return false;
        const reserve = (guard: SQL | undefined, set: Partial<TaskRow>) =>
          tx
            .update(tasks)
            // From here on a create may reach Kling.
            .set({ ...set, submittingUntil: until, submitSentAt: sql`coalesce(${tasks.submitSentAt}, ${now})` })
            .where(and(eq(tasks.id, task.id), eq(tasks.status, 'QUEUED'), guard))
            .returning({ id: tasks.id });
        if (current.holdsSlot) return (await reserve(eq(tasks.holdsSlot, true), {})).length > 0;
        const free = maxActive - key.slotsInUse;
        if (free <= 0 || (await olderWaiting(tx, task.apiKeyId, task, free)) >= free) return false;
        if ((await reserve(eq(tasks.holdsSlot, false), { holdsSlot: true })).length === 0) return false;
        await changeSlots(tx, task.apiKeyId, 1);
        return true;
      });
    },

    /** Makes the key's waiting tasks due now, so a freed slot at Kling is taken without waiting for a recheck. */
    async wakeQueued(apiKeyId: string, now: number): Promise<number> {
      const woken = await run((db) =>
        db
          .update(tasks)
          .set({ nextCheckAt: now })
          .where(and(eq(tasks.apiKeyId, apiKeyId), eq(tasks.status, 'QUEUED'), gt(tasks.nextCheckAt, now)))
          .returning({ id: tasks.id }),
      );
      return woken.length;
    },

    /** 1-based place of a QUEUED task in its key's queue (oldest first); tasks being submitted have left it. */
    async queuePosition(apiKeyId: string, createdAt: number, id: string): Promise<number> {
      return run(async (db) => {
        const row = first(
          await db
            .select({ n: sql`count(*)` })
            .from(tasks)
            .where(and(waitingIn(apiKeyId), createdBefore({ createdAt, id }))),
        );
        return toNumber(row?.n ?? 0) + 1;
      });
    },
  };
}
