// Every query the services use. Credits change only here, each time inside one transaction together
// with its ledger row and guarded by the task's current status, so a hold settles or refunds once.
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { TaskStatus } from '../tasks/status.js';
import type { SqliteDb } from './connection.js';
import {
  apiKeys,
  creditLedger,
  tasks,
  webhookAttempts,
  webhookDeliveries,
  type ApiKeyRow,
  type LedgerKind,
  type NewTaskRow,
  type NewWebhookDeliveryRow,
  type TaskRow,
  type WebhookAttemptRow,
  type WebhookDeliveryRow,
} from './schema.js';

export type InsertTaskOutcome =
  | { kind: 'created'; task: TaskRow }
  | { kind: 'replayed'; task: TaskRow }
  | { kind: 'idempotency-conflict' }
  | { kind: 'insufficient-credits'; available: number };

export type Settlement = 'charge' | 'refund';

export interface Transition {
  /** The change applies only while the task is in one of these states (compare-and-swap). */
  from: readonly TaskStatus[];
  set: Partial<Omit<NewTaskRow, 'id' | 'apiKeyId' | 'credits' | 'creditsCharged' | 'version'>>;
  /** Moves the task's hold to a charge or back to the balance in the same transaction. */
  settle?: Settlement | undefined;
  /**
   * Builds the outgoing webhook from the updated row. A delivery it returns is written in the same
   * transaction, so a terminal state is never stored without its notification, nor the reverse.
   */
  webhook?: ((task: TaskRow) => NewWebhookDeliveryRow | undefined) | undefined;
}

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

export interface TaskListFilter {
  statuses?: readonly TaskStatus[] | undefined;
  model?: string | undefined;
  createdFrom?: number | undefined;
  createdTo?: number | undefined;
}

export interface TaskPosition {
  createdAt: number;
  id: string;
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

export function createStore(db: SqliteDb) {
  const writeTx = <T>(fn: (tx: SqliteDb) => T): T =>
    // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading read locks.
    db.transaction((tx) => fn(tx as unknown as SqliteDb), { behavior: 'immediate' });

  const ledger = (tx: SqliteDb, apiKeyId: string, taskId: string | null, kind: LedgerKind, amount: number, now: number) =>
    tx.insert(creditLedger).values({ apiKeyId, taskId, kind, amount, createdAt: now }).run();

  return {
    async insertApiKey(row: Omit<ApiKeyRow, 'creditBalance' | 'creditsHeld' | 'creditsUsed' | 'revokedAt'>, credits: number) {
      return writeTx((tx) => {
        const created = tx.insert(apiKeys).values({ ...row, creditBalance: credits }).returning().get();
        if (credits > 0) ledger(tx, row.id, null, 'grant', credits, row.createdAt);
        return created;
      });
    },

    async findApiKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
      return db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).get();
    },

    async getApiKey(id: string): Promise<ApiKeyRow | undefined> {
      return db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
    },

    async findApiKey(idOrName: string): Promise<ApiKeyRow | undefined> {
      return db
        .select()
        .from(apiKeys)
        .where(or(eq(apiKeys.id, idOrName), eq(apiKeys.name, idOrName)))
        .orderBy(desc(apiKeys.createdAt))
        .get();
    },

    async listApiKeys(): Promise<ApiKeyRow[]> {
      return db.select().from(apiKeys).orderBy(apiKeys.createdAt).all();
    },

    async grantCredits(id: string, amount: number, now: number): Promise<ApiKeyRow | undefined> {
      return writeTx((tx) => {
        const updated = tx
          .update(apiKeys)
          .set({ creditBalance: sql`${apiKeys.creditBalance} + ${amount}` })
          .where(eq(apiKeys.id, id))
          .returning()
          .get() as ApiKeyRow | undefined;
        if (updated) ledger(tx, id, null, 'grant', amount, now);
        return updated;
      });
    },

    async revokeApiKey(id: string, now: number): Promise<ApiKeyRow | undefined> {
      return db
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.id, id), sql`${apiKeys.revokedAt} IS NULL`))
        .returning()
        .get();
    },

    /** Holds the price and records the task in one transaction; replays and conflicts hold nothing. */
    async insertTaskWithHold(row: NewTaskRow & { createdAt: number }): Promise<InsertTaskOutcome> {
      return writeTx((tx): InsertTaskOutcome => {
        if (row.idempotencyKey) {
          const existing = tx
            .select()
            .from(tasks)
            .where(and(eq(tasks.apiKeyId, row.apiKeyId), eq(tasks.idempotencyKey, row.idempotencyKey)))
            .get();
          if (existing) {
            return existing.inputFingerprint === row.inputFingerprint
              ? { kind: 'replayed', task: existing }
              : { kind: 'idempotency-conflict' };
          }
        }
        const held = tx
          .update(apiKeys)
          .set({
            creditBalance: sql`${apiKeys.creditBalance} - ${row.credits}`,
            creditsHeld: sql`${apiKeys.creditsHeld} + ${row.credits}`,
          })
          .where(and(eq(apiKeys.id, row.apiKeyId), gte(apiKeys.creditBalance, row.credits)))
          .run();
        if (held.changes === 0) {
          const account = tx.select({ balance: apiKeys.creditBalance }).from(apiKeys).where(eq(apiKeys.id, row.apiKeyId)).get();
          return { kind: 'insufficient-credits', available: account?.balance ?? 0 };
        }
        const task = tx.insert(tasks).values(row).returning().get();
        ledger(tx, row.apiKeyId, task.id, 'hold', row.credits, row.createdAt);
        return { kind: 'created', task };
      });
    },

    /**
     * Applies a status change only if the task is still in one of `from`; returns the updated row,
     * or undefined when another writer got there first (then nothing at all was changed).
     */
    async transition(id: string, change: Transition, now: number): Promise<TaskRow | undefined> {
      return writeTx((tx) => {
        const updated = tx
          .update(tasks)
          .set({
            ...change.set,
            ...(change.settle === 'charge' ? { creditsCharged: sql`${tasks.credits}` } : {}),
            updatedAt: now,
            version: sql`${tasks.version} + 1`,
          })
          .where(and(eq(tasks.id, id), inArray(tasks.status, [...change.from])))
          .returning()
          .get() as TaskRow | undefined;
        if (!updated) return undefined;
        const delivery = change.webhook?.(updated);
        // The unique (task, event) index makes a repeated terminal state a no-op rather than a second message.
        if (delivery) tx.insert(webhookDeliveries).values(delivery).onConflictDoNothing().run();
        if (!change.settle) return updated;
        const amount = updated.credits;
        tx.update(apiKeys)
          .set(
            change.settle === 'charge'
              ? { creditsHeld: sql`${apiKeys.creditsHeld} - ${amount}`, creditsUsed: sql`${apiKeys.creditsUsed} + ${amount}` }
              : { creditsHeld: sql`${apiKeys.creditsHeld} - ${amount}`, creditBalance: sql`${apiKeys.creditBalance} + ${amount}` },
          )
          .where(eq(apiKeys.id, updated.apiKeyId))
          .run();
        ledger(tx, updated.apiKeyId, updated.id, change.settle, amount, now);
        return updated;
      });
    },

    async getTask(id: string): Promise<TaskRow | undefined> {
      return db.select().from(tasks).where(eq(tasks.id, id)).get();
    },

    async getTaskForKey(apiKeyId: string, id: string): Promise<TaskRow | undefined> {
      return db
        .select()
        .from(tasks)
        .where(and(eq(tasks.id, id), eq(tasks.apiKeyId, apiKeyId)))
        .get();
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
      const older = o && or(lt(tasks.createdAt, o.createdAt), and(eq(tasks.createdAt, o.createdAt), lt(tasks.id, o.id)));
      const newer = n && or(gt(tasks.createdAt, n.createdAt), and(eq(tasks.createdAt, n.createdAt), gt(tasks.id, n.id)));
      if (older) conditions.push(older);
      if (newer) conditions.push(newer);
      return db
        .select()
        .from(tasks)
        .where(and(...conditions))
        .orderBy(...(page.oldestFirst ? [asc(tasks.createdAt), asc(tasks.id)] : [desc(tasks.createdAt), desc(tasks.id)]))
        .limit(page.limit)
        .all();
    },

    /**
     * Takes up to `limit` tasks whose check is due, oldest due first, and pushes their next check
     * `leaseMs` ahead in the same statement: a lease, so no other poller takes them meanwhile, and a
     * poller that dies simply lets them come due again.
     */
    async claimDueTasks(now: number, limit: number, leaseMs: number): Promise<TaskRow[]> {
      return writeTx((tx) => {
        const due = tx
          .select({ id: tasks.id })
          .from(tasks)
          .where(and(isNotNull(tasks.nextCheckAt), lte(tasks.nextCheckAt, now)))
          .orderBy(tasks.nextCheckAt)
          .limit(limit)
          .all()
          .map((r) => r.id);
        if (due.length === 0) return [];
        return tx
          .update(tasks)
          .set({ nextCheckAt: now + leaseMs })
          .where(inArray(tasks.id, due))
          .returning()
          .all();
      });
    },

    /** When the next task comes due, or null when nothing is open. */
    async nextDueAt(): Promise<number | null> {
      const row = db
        .select({ at: sql<number | null>`min(${tasks.nextCheckAt})` })
        .from(tasks)
        .get();
      return row?.at ?? null;
    },

    /** Sets when to look at an open task next, without it counting as a change (no version bump). */
    async reschedule(id: string, status: TaskStatus, nextCheckAt: number, checkAttempts: number): Promise<boolean> {
      const result = db
        .update(tasks)
        .set({ nextCheckAt, checkAttempts })
        .where(and(eq(tasks.id, id), eq(tasks.status, status)))
        .run();
      return result.changes > 0;
    },

    /** Open tasks past their deadline. */
    async overdueTasks(now: number, limit: number): Promise<TaskRow[]> {
      return db
        .select()
        .from(tasks)
        .where(and(isNotNull(tasks.nextCheckAt), lte(tasks.deadlineAt, now)))
        .limit(limit)
        .all();
    },

    async countTasksForKey(apiKeyId: string, statuses: readonly TaskStatus[]): Promise<number> {
      const row = db
        .select({ n: sql<number>`count(*)` })
        .from(tasks)
        .where(and(eq(tasks.apiKeyId, apiKeyId), inArray(tasks.status, [...statuses])))
        .get();
      return row?.n ?? 0;
    },

    /** 1-based place of a QUEUED task in its key's queue (oldest first). */
    async queuePosition(apiKeyId: string, createdAt: number, id: string): Promise<number> {
      const row = db
        .select({ n: sql<number>`count(*)` })
        .from(tasks)
        .where(
          and(
            eq(tasks.apiKeyId, apiKeyId),
            eq(tasks.status, 'QUEUED'),
            or(lt(tasks.createdAt, createdAt), and(eq(tasks.createdAt, createdAt), lt(tasks.id, id))),
          ),
        )
        .get();
      return (row?.n ?? 0) + 1;
    },

    /**
     * Takes up to `limit` pending webhook deliveries that are due, oldest due first, and pushes their
     * next attempt `leaseMs` ahead in the same statement, as claimDueTasks does for tasks.
     */
    async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<WebhookDeliveryRow[]> {
      return writeTx((tx) => {
        const due = tx
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
          .orderBy(webhookDeliveries.nextAttemptAt)
          .limit(limit)
          .all()
          .map((r) => r.id);
        if (due.length === 0) return [];
        return tx
          .update(webhookDeliveries)
          .set({ nextAttemptAt: now + leaseMs })
          .where(inArray(webhookDeliveries.id, due))
          .returning()
          .all();
      });
    },

    /** When the next webhook delivery comes due, or null when none is pending. */
    async nextWebhookDueAt(): Promise<number | null> {
      const row = db
        .select({ at: sql<number | null>`min(${webhookDeliveries.nextAttemptAt})` })
        .from(webhookDeliveries)
        .get();
      return row?.at ?? null;
    },

    /**
     * Stores one attempt and its outcome together. Guarded by the attempt count, so when a lease ran
     * out and two senders tried the same delivery, only the first to finish is counted; returns
     * false for the other.
     */
    async recordWebhookAttempt(id: string, record: WebhookAttemptRecord, outcome: WebhookAttemptOutcome): Promise<boolean> {
      return writeTx((tx) => {
        const updated = tx
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
          .run();
        if (updated.changes === 0) return false;
        tx.insert(webhookAttempts)
          .values({ deliveryId: id, ...record })
          .run();
        return true;
      });
    },

    async webhookDeliveriesForTask(taskId: string): Promise<WebhookDeliveryRow[]> {
      return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.taskId, taskId)).orderBy(webhookDeliveries.createdAt).all();
    },

    async webhookAttemptsOf(deliveryId: string): Promise<WebhookAttemptRow[]> {
      return db
        .select()
        .from(webhookAttempts)
        .where(eq(webhookAttempts.deliveryId, deliveryId))
        .orderBy(webhookAttempts.attempt)
        .all();
    },

    /** Sums of the ledger per kind for one key, for audits and tests. */
    async ledgerTotals(apiKeyId: string): Promise<Record<LedgerKind, number>> {
      const rows = db
        .select({ kind: creditLedger.kind, total: sql<number>`sum(${creditLedger.amount})` })
        .from(creditLedger)
        .where(eq(creditLedger.apiKeyId, apiKeyId))
        .groupBy(creditLedger.kind)
        .all();
      const totals: Record<LedgerKind, number> = { grant: 0, hold: 0, charge: 0, refund: 0 };
      for (const r of rows) totals[r.kind] = r.total;
      return totals;
    },
  };
}

export type Store = ReturnType<typeof createStore>;
