// Reads of the store that only tests make: ledger sums, slot and task counts, the webhook outbox as
// stored. They go through the store's dialect, so they see what the gateway wrote on either database.
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { LedgerKind, WebhookAttemptRow, WebhookDeliveryRow } from '../../src/db/schema.js';
import type { Store } from '../../src/db/store.js';
import type { TaskStatus } from '../../src/db/task-status.js';

/** count(*) and sum() arrive as strings from PostgreSQL (bigint/numeric) and as numbers from SQLite. */
const toNumber = (value: unknown) => Number(value ?? 0);

/** Sums of the ledger per kind for one key. */
export async function ledgerTotals(store: Store, apiKeyId: string): Promise<Record<LedgerKind, number>> {
  const { creditLedger } = store.dialect.tables;
  const rows = await store.dialect.run((db) =>
    db
      .select({ kind: creditLedger.kind, total: sql`sum(${creditLedger.amount})` })
      .from(creditLedger)
      .where(eq(creditLedger.apiKeyId, apiKeyId))
      .groupBy(creditLedger.kind),
  );
  const totals: Record<LedgerKind, number> = { grant: 0, hold: 0, charge: 0, refund: 0 };
  for (const r of rows) totals[r.kind] = toNumber(r.total);
  return totals;
}

/** The key's tasks holding a slot at Kling, counted; api_keys.slots_in_use must equal it. */
export async function tasksHoldingSlots(store: Store, apiKeyId: string): Promise<number> {
  const { tasks } = store.dialect.tables;
  const [row] = await store.dialect.run((db) =>
    db
      .select({ n: sql`count(*)` })
      .from(tasks)
      .where(and(eq(tasks.apiKeyId, apiKeyId), eq(tasks.holdsSlot, true))),
  );
  return toNumber(row?.n);
}

/** Per task, how many holds and how many settlements (charges + refunds) the ledger has. */
export async function ledgerEntriesPerTask(store: Store): Promise<{ taskId: string; holds: number; settles: number }[]> {
  const { creditLedger } = store.dialect.tables;
  const rows = await store.dialect.run((db) =>
    db
      .select({ taskId: creditLedger.taskId, kind: creditLedger.kind, n: sql`count(*)` })
      .from(creditLedger)
      .where(isNotNull(creditLedger.taskId))
      .groupBy(creditLedger.taskId, creditLedger.kind),
  );
  const perTask = new Map<string, { taskId: string; holds: number; settles: number }>();
  for (const row of rows) {
    const taskId = row.taskId ?? '';
    const entry = perTask.get(taskId) ?? { taskId, holds: 0, settles: 0 };
    if (row.kind === 'hold') entry.holds += toNumber(row.n);
    else if (row.kind === 'charge' || row.kind === 'refund') entry.settles += toNumber(row.n);
    perTask.set(taskId, entry);
  }
  return [...perTask.values()];
}

/** The key's tasks in one of `statuses`, counted. */
export async function countTasksForKey(store: Store, apiKeyId: string, statuses: readonly TaskStatus[]): Promise<number> {
  const { tasks } = store.dialect.tables;
  const [row] = await store.dialect.run((db) =>
    db
      .select({ n: sql`count(*)` })
      .from(tasks)
      .where(and(eq(tasks.apiKeyId, apiKeyId), inArray(tasks.status, [...statuses]))),
  );
  return toNumber(row?.n);
}

/** The task's outgoing webhooks, oldest first. */
export async function webhookDeliveriesForTask(store: Store, taskId: string): Promise<WebhookDeliveryRow[]> {
  const { webhookDeliveries } = store.dialect.tables;
  return store.dialect.run((db) =>
    db.select().from(webhookDeliveries).where(eq(webhookDeliveries.taskId, taskId)).orderBy(webhookDeliveries.createdAt),
  );
}

/** The HTTP attempts of one delivery, in order. */
export async function webhookAttemptsOf(store: Store, deliveryId: string): Promise<WebhookAttemptRow[]> {
  const { webhookAttempts } = store.dialect.tables;
  return store.dialect.run((db) =>
    db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, deliveryId)).orderBy(webhookAttempts.attempt),
  );
}
