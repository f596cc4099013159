// Status changes: one compare-and-swap per change, with the credit settlement, the slot release and
// the outgoing webhook of that change in the same transaction.
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { NewTaskRow, NewWebhookDeliveryRow, TaskRow } from '../schema.js';
import { isTerminal, type TaskStatus } from '../task-status.js';
import { defined, first, placeholders, prefixed, type StoreContext } from './context.js';
import type { Ledger, Settlement } from './ledger.js';
import type { Slots } from './slots.js';

export interface Transition {
  /** The change applies only while the task is in one of these states (compare-and-swap). */
  from: readonly TaskStatus[];
  set: Partial<Omit<NewTaskRow, 'id' | 'apiKeyId' | 'credits' | 'creditsCharged' | 'version'>>;
  /** Moves the task's hold to a charge or back to the balance in the same transaction. */
  settle?: Settlement | undefined;
  /** `never-sent`: also only while no create for the task may have reached Kling (submit_sent_at is null). */
  guard?: 'never-sent' | undefined;
  /**
   * Builds the outgoing webhook from the updated row. A delivery it returns is written in the same
   * transaction, so a terminal state is never stored without its notification, nor the reverse.
   */
  webhook?: ((task: TaskRow) => NewWebhookDeliveryRow | undefined) | undefined;
}

export function createTransitions({ dialect, transaction, byShape, lockKeyOf }: StoreContext, { ledger }: Ledger, { releaseSlot }: Slots) {
  const { apiKeys, tasks, webhookDeliveries } = dialect.tables;
  const placeholder = sql.placeholder;

  return {
    /**
     * Applies a status change only if the task is still in one of `from`; returns the updated row,
     * or undefined when another writer got there first (then nothing at all was changed).
     */
    async transition(id: string, change: Transition, now: number): Promise<TaskRow | undefined> {
      const ends = change.set.status !== undefined && isTerminal(change.set.status);
      return transaction(async (tx) => {
        // Credits and slots live on the key's row.
        if (change.settle || ends) await lockKeyOf(tx, id);
        const set = defined(change.set);
        const charge = change.settle === 'charge' ? { creditsCharged: sql`${tasks.credits}` } : {};
        const from = Object.fromEntries(change.from.map((status, n) => [`from${n}`, status]));
        const unsent = change.guard === 'never-sent' ? isNull(tasks.submitSentAt) : undefined;
        const shape = `task_cas${change.from.length}${change.settle === 'charge' ? 'c' : ''}${unsent ? 'u' : ''}`;
        const cas = byShape(shape, set, (db) =>
          db
            .update(tasks)
            .set({
              ...placeholders(set, 'set_'),
              ...charge,
              ...placeholders({ updatedAt: now }),
              version: sql`${tasks.version} + 1`,
            })
            .where(and(eq(tasks.id, placeholder('id')), inArray(tasks.status, Object.keys(from).map((name) => placeholder(name))), unsent))
            .returning(),
        );
        const updated = first(
          cas
            ? await cas(tx, { ...prefixed(set, 'set_'), ...from, id, updatedAt: now })
            : await tx
                .update(tasks)
                .set({ ...set, ...charge, updatedAt: now, version: sql`${tasks.version} + 1` })
                .where(and(eq(tasks.id, id), inArray(tasks.status, [...change.from]), unsent))
                .returning(),
        );
        if (!updated) return undefined;
        // A task that ends gives its slot at Kling back; the CAS above already made this writer the only one.
        if (ends && updated.holdsSlot) {
          await releaseSlot(tx, updated.id, updated.apiKeyId);
          updated.holdsSlot = false;
          updated.submittingUntil = null;
        }
        const delivery = change.webhook?.(updated);
        // The unique (task, event) index makes a repeated terminal state a no-op rather than a second message.
        if (delivery) await tx.insert(webhookDeliveries).values(delivery).onConflictDoNothing();
        if (!change.settle) return updated;
        const amount = updated.credits;
        await tx
          .update(apiKeys)
          .set(
            change.settle === 'charge'
              ? { creditsHeld: sql`${apiKeys.creditsHeld} - ${amount}`, creditsUsed: sql`${apiKeys.creditsUsed} + ${amount}` }
              : { creditsHeld: sql`${apiKeys.creditsHeld} - ${amount}`, creditBalance: sql`${apiKeys.creditBalance} + ${amount}` },
          )
          .where(eq(apiKeys.id, updated.apiKeyId));
        await ledger(tx, updated.apiKeyId, updated.id, change.settle, amount, now);
        return updated;
      });
    },
  };
}
