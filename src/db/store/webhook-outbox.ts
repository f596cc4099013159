// The webhook outbox as the sender works it: due deliveries leased to one sender at a time, when the
// next one comes due, and each attempt recorded with its outcome. Rows are written by transitions.ts.
import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import type { WebhookDeliveryRow } from '../schema.js';
import { first, toNumber, type StoreContext } from './context.js';

/** How one webhook attempt ended, as the sender decided it. */
export type WebhookAttemptOutcome =
  | { status: 'delivered' }
  | { status: 'pending'; nextAttemptAt: number }
  | { status: 'failed' };

export interface WebhookAttemptRecord {
  /** 1-based; must be the delivery's attempts + 1, or nothing is recorded. */
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: number;
}

export function createWebhookOutbox({ dialect, run, transaction }: StoreContext) {
  const { webhookAttempts, webhookDeliveries } = dialect.tables;

  return {
    /**
     * Takes up to `limit` pending webhook deliveries that are due and pushes their next attempt
     * `leaseMs` ahead in the same transaction, as claimDueTasks does for tasks. Keys take turns: each
     * key's oldest due delivery first, then each key's second, and so on, at most `perKey` of one key,
     * so a key with a large backlog cannot crowd another key's single delivery out of a batch.
     */
    async claimDueWebhooks(now: number, limit: number, leaseMs: number, perKey = limit): Promise<WebhookDeliveryRow[]> {
      return transaction(async (tx) => {
        const due = and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now));
        const ranked = tx
          .select({
            id: webhookDeliveries.id,
            nextAttemptAt: webhookDeliveries.nextAttemptAt,
            turn: sql<number>`row_number() over (partition by ${webhookDeliveries.apiKeyId} order by ${webhookDeliveries.nextAttemptAt}, ${webhookDeliveries.id})`.as(
              'turn',
            ),
          })
          .from(webhookDeliveries)
          .where(due)
          .as('ranked');
        const picked = await tx
          .select({ id: ranked.id })
          .from(ranked)
          .where(lte(ranked.turn, perKey))
          .orderBy(sql`${ranked.turn}`, ranked.nextAttemptAt, ranked.id)
          .limit(limit);
        if (picked.length === 0) return [];
        // A window query cannot lock rows (FOR UPDATE), so the update claims only rows still due:
        // a concurrent claimer that took one first has pushed it ahead, and PostgreSQL re-checks
        // this condition on the row it waited for.
        return tx
          .update(webhookDeliveries)
          .set({ nextAttemptAt: now + leaseMs })
          .where(
            and(
              inArray(
                webhookDeliveries.id,
                picked.map((r) => r.id),
              ),
              due,
            ),
          )
          .returning();
      });
    },

    /**
     * Moves a claimed delivery to `nextAttemptAt` without counting an attempt (its receiver's host is
     * being skipped), or gives it up (status failed, with `error`) when `nextAttemptAt` is null.
     * Guarded by the attempt count like recordWebhookAttempt; false when another sender got there first.
     */
    async deferWebhook(id: string, attempts: number, nextAttemptAt: number | null, error: string | null = null): Promise<boolean> {
      return run(async (db) => {
        const updated = await db
          .update(webhookDeliveries)
          .set(nextAttemptAt === null ? { status: 'failed', nextAttemptAt: null, lastError: error } : { nextAttemptAt })
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending'), eq(webhookDeliveries.attempts, attempts)))
          .returning({ id: webhookDeliveries.id });
        return updated.length > 0;
      });
    },

    /** When the next webhook delivery comes due, or null when none is pending. */
    async nextWebhookDueAt(): Promise<number | null> {
      return run(async (db) => {
        const row = first(
          await db.select({ at: sql<string | number | null>`min(${webhookDeliveries.nextAttemptAt})` }).from(webhookDeliveries),
        );
        return row?.at === null || row?.at === undefined ? null : toNumber(row.at);
      });
    },

    /**
     * Stores one attempt and its outcome together. Guarded by the attempt count, so when a lease ran
     * out and two senders tried the same delivery, only the first to finish is counted; returns
     * false for the other.
     */
    async recordWebhookAttempt(id: string, record: WebhookAttemptRecord, outcome: WebhookAttemptOutcome): Promise<boolean> {
      return transaction(async (tx) => {
        const updated = await tx
          .update(webhookDeliveries)
          .set({
            status: outcome.status,
            attempts: record.attempt,
            nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
            lastStatusCode: record.statusCode,
            lastError: record.error,
            deliveredAt: outcome.status === 'delivered' ? record.attemptedAt : null,
          })
          .where(
            and(
              eq(webhookDeliveries.id, id),
              eq(webhookDeliveries.status, 'pending'),
              eq(webhookDeliveries.attempts, record.attempt - 1),
            ),
          )
          .returning({ id: webhookDeliveries.id });
        if (updated.length === 0) return false;
        await tx.insert(webhookAttempts).values({ deliveryId: id, ...record });
        return true;
      });
    },
  };
}
