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
     * Takes up to `limit` pending webhook deliveries that are due, oldest due first, and pushes their
     * next attempt `leaseMs` ahead in the same transaction, as claimDueTasks does for tasks.
     */
    async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDeliveryRow[]> {
      return transaction(async (tx) => {
        const due = await dialect.skipLocked(
          tx
            .select({ id: webhookDeliveries.id })
            .from(webhookDeliveries)
            .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
            .orderBy(webhookDeliveries.nextAttemptAt)
            .limit(limit),
        );
        if (due.length === 0) return [];
        return tx
          .update(webhookDeliveries)
          .set({ nextAttemptAt: now + leaseMs })
          .where(
            inArray(
              webhookDeliveries.id,
              due.map((r) => r.id),
            ),
          )
          .returning();
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
