// Every query the services use. Credits change only here, each time inside one transaction together
// with its ledger row and guarded by the task's current status, so a hold settles or refunds once.
import { createHash } from 'node:crypto';
import { and, asc, desc, eq, getTableColumns, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { isTerminal, type TaskStatus } from '../tasks/status.js';
import type { SqliteDb } from './connection.js';
import type Database from 'better-sqlite3';
import { createSqliteDialect, type Dialect } from './dialect.js';
import type {
  ApiKeyRow,
  LedgerKind,
  NewTaskRow,
  NewWebhookDeliveryRow,
  TaskRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
} from './schema.js';

export type InsertTaskOutcome =
  | { kind: 'created'; task: TaskRow }
  | { kind: 'replayed'; task: TaskRow }
  | { kind: 'idempotency-conflict' }
  | { kind: 'insufficient-credits'; available: number };

export type Settlement = 'charge' | 'refund';

/** A new task may take one of its key's slots at Kling right away; the submit may take until `until`. */
export interface SlotRequest {
  maxActive: number;
  until: number;
}

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

/** Unique-index violations, in both dialects' words. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

const first = <T>(rows: T[]): T | undefined => rows[0];
/** exists() arrives as a boolean from PostgreSQL and as 0/1 from SQLite. */
const toBoolean = (value: unknown) => value === true || value === 1;
/** count(*) and sum() arrive as strings from PostgreSQL (bigint/numeric) and as numbers from SQLite. */
const toNumber = (value: unknown) => Number(value);

/**
 * @param source a Dialect, or (for tools and tests on a SQLite file) a drizzle SQLite database.
 */
export function createStore(source: Dialect | SqliteDb) {
  const dialect: Dialect = 'kind' in source ? source : createSqliteDialect((source as SqliteDb & { $client: Database.Database }).$client);
  const { apiKeys, creditLedger, tasks, webhookAttempts, webhookDeliveries } = dialect.tables;
  const transaction = <T>(fn: (tx: SqliteDb) => Promise<T>) => dialect.transaction(fn);
  const run = <T>(fn: (db: SqliteDb) => Promise<T>) => dialect.run(fn);

  // The reads behind every authenticated request and every task lookup, built once. Each matches at
  // most one row (primary or unique key), so none has a LIMIT: drizzle binds it as `LIMIT ?`, and with
  // that SQLite re-prepared the statement on every call (about 20 µs, against 1.3 µs for the read).
  const byHash = dialect.prepare<ApiKeyRow>(
    'api_key_by_hash',
    dialect.db.select().from(apiKeys).where(eq(apiKeys.keyHash, sql.placeholder('hash'))),
  );
  const keyById = dialect.prepare<ApiKeyRow>(
    'api_key_by_id',
    dialect.db.select().from(apiKeys).where(eq(apiKeys.id, sql.placeholder('id'))),
  );
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

  // The statements of every submit and every status change, built once (see byShape for the latter).
  const placeholder = sql.placeholder;
  const ledgerRow = dialect.prepareIn<{ id: number }>('ledger_insert', (db) =>
    db
      .insert(creditLedger)
      .values({
        apiKeyId: placeholder('apiKeyId'),
        taskId: placeholder('taskId'),
        kind: placeholder('kind'),
        amount: placeholder('amount'),
        createdAt: placeholder('createdAt'),
      })
      .returning({ id: creditLedger.id }),
  );
  /** The key's QUEUED tasks that wait for a slot at Kling (none reserved). */
  const waitingIn = (apiKeyId: string | ReturnType<typeof placeholder>) =>
    and(eq(tasks.apiKeyId, apiKeyId), eq(tasks.status, 'QUEUED'), eq(tasks.holdsSlot, false));
  /** Tasks created before `position`, in (createdAt, id) order: the queue's and the task list's order. */
  const createdBefore = (position: TaskPosition) =>
    or(lt(tasks.createdAt, position.createdAt), and(eq(tasks.createdAt, position.createdAt), lt(tasks.id, position.id)));

  const ledger = (tx: SqliteDb, apiKeyId: string, taskId: string | null, kind: LedgerKind, amount: number, now: number) =>
    ledgerRow(tx, { apiKeyId, taskId, kind, amount, createdAt: now });
  const holdCredits = dialect.prepareIn<{ slotsInUse: number }>('hold_credits', (db) =>
    db
      .update(apiKeys)
      .set({
        creditBalance: sql`${apiKeys.creditBalance} - ${placeholder('credits')}`,
        creditsHeld: sql`${apiKeys.creditsHeld} + ${placeholder('credits')}`,
      })
      .where(and(eq(apiKeys.id, placeholder('apiKeyId')), gte(apiKeys.creditBalance, placeholder('credits'))))
      .returning({ slotsInUse: apiKeys.slotsInUse }),
  );
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

  /**
   * Statements whose shape (which columns they set, how many states they accept) varies with the
   * call, prepared once per shape. A value goes in as a named placeholder. drizzle encodes
   * placeholders without its null check, so a null in a SQLite boolean column would become 0:
   * such a call gets no prepared statement (undefined) and is built the ordinary way.
   */
  const taskColumns: Record<string, { columnType: string }> = getTableColumns(tasks);
  const shapes = new Map<string, (db: SqliteDb, params: Record<string, unknown>) => Promise<TaskRow[]>>();
  const byShape = (kind: string, values: Record<string, unknown>, build: (db: SqliteDb) => { prepare(name?: string): unknown }) => {
    const columns = Object.keys(values);
    if (columns.some((column) => values[column] === null && taskColumns[column]?.columnType === 'SQLiteBoolean')) return undefined;
    const shape = `${kind}:${columns.join(',')}`;
    let statement = shapes.get(shape);
    if (!statement) {
      // The shapes come from our own code paths, a few dozen at most; PostgreSQL names must be short.
      statement = dialect.prepareIn<TaskRow>(`${kind}_${createHash('sha1').update(shape).digest('hex').slice(0, 16)}`, build);
      shapes.set(shape, statement);
    }
    return statement;
  };
  /**
   * A placeholder per column. drizzle binds a placeholder in values() and set() like a value (with the
   * column's encoder), but its types list only values, hence the cast back to the row's type.
   */
  const placeholders = <T extends object>(values: T, prefix = '') =>
    Object.fromEntries(Object.keys(values).map((column) => [column, placeholder(prefix + column)])) as T;
  const prefixed = (values: Record<string, unknown>, prefix: string) =>
    Object.fromEntries(Object.entries(values).map(([column, value]) => [prefix + column, value]));
  const defined = <T extends object>(values: T) =>
    Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;

  const changeSlots = (tx: SqliteDb, apiKeyId: string, by: 1 | -1) => slotsChange(tx, { apiKeyId, by });

  /**
   * Locks the row of the task's key and returns the key's id (undefined for an unknown task). Lock
   * order key → task, as reserveSubmitSlot and insertTaskWithHold take them, so two transactions on
   * one key never wait for each other in a circle (PostgreSQL).
   */
  const lockKeyOf = async (tx: SqliteDb, taskId: string) => {
    const owner = first(await tx.select({ apiKeyId: tasks.apiKeyId }).from(tasks).where(eq(tasks.id, taskId)));
    if (owner) await dialect.forUpdate(tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, owner.apiKeyId)));
    return owner?.apiKeyId;
  };

  /**
   * Gives the task's slot back to its key, once: only the writer that clears holds_slot decrements.
   * The caller holds the key's lock. `status` further limits it to a task still in that state.
   */
  const releaseSlot = async (tx: SqliteDb, taskId: string, apiKeyId: string, status?: TaskStatus) => {
    const released = await tx
      .update(tasks)
      .set({ holdsSlot: false, submittingUntil: null })
      .where(and(eq(tasks.id, taskId), eq(tasks.holdsSlot, true), status ? eq(tasks.status, status) : undefined))
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

  return {
    dialect,

    async insertApiKey(row: Omit<ApiKeyRow, 'creditBalance' | 'creditsHeld' | 'creditsUsed' | 'slotsInUse' | 'revokedAt'>, credits: number) {
      return transaction(async (tx) => {
        const [created] = await tx.insert(apiKeys).values({ ...row, creditBalance: credits }).returning();
        if (credits > 0) await ledger(tx, row.id, null, 'grant', credits, row.createdAt);
        return created as ApiKeyRow;
      });
    },

    async findApiKeyByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
      return first(await byHash({ hash: keyHash }));
    },

    async getApiKey(id: string): Promise<ApiKeyRow | undefined> {
      return first(await keyById({ id }));
    },

    async findApiKey(idOrName: string): Promise<ApiKeyRow | undefined> {
      return run(async (db) =>
        first(
          await db
            .select()
            .from(apiKeys)
            .where(or(eq(apiKeys.id, idOrName), eq(apiKeys.name, idOrName)))
            .orderBy(desc(apiKeys.createdAt))
            .limit(1),
        ),
      );
    },

    async listApiKeys(): Promise<ApiKeyRow[]> {
      return run((db) => db.select().from(apiKeys).orderBy(apiKeys.createdAt));
    },

    async grantCredits(id: string, amount: number, now: number): Promise<ApiKeyRow | undefined> {
      return transaction(async (tx) => {
        const updated = first(
          await tx
            .update(apiKeys)
            .set({ creditBalance: sql`${apiKeys.creditBalance} + ${amount}` })
            .where(eq(apiKeys.id, id))
            .returning(),
        );
        if (updated) await ledger(tx, id, null, 'grant', amount, now);
        return updated;
      });
    },

    async revokeApiKey(id: string, now: number): Promise<ApiKeyRow | undefined> {
      return run(async (db) =>
        first(
          await db
            .update(apiKeys)
            .set({ revokedAt: now })
            .where(and(eq(apiKeys.id, id), sql`${apiKeys.revokedAt} IS NULL`))
            .returning(),
        ),
      );
    },

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
          const values = defined(takesSlot ? { ...row, holdsSlot: true, submittingUntil: slot.until } : { ...row, holdsSlot: false });
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

    /**
     * Applies a status change only if the task is still in one of `from`; returns the updated row,
     * or undefined when another writer got there first (then nothing at all was changed).
     */
    async transition(id: string, change: Transition, now: number): Promise<TaskRow | undefined> {
      const ends = change.set.status !== undefined && isTerminal(change.set.status as TaskStatus);
      return transaction(async (tx) => {
        // Credits and slots live on the key's row.
        if (change.settle || ends) await lockKeyOf(tx, id);
        const set = defined(change.set);
        const charge = change.settle === 'charge' ? { creditsCharged: sql`${tasks.credits}` } : {};
        const from = Object.fromEntries(change.from.map((status, n) => [`from${n}`, status]));
        const cas = byShape(`task_cas${change.from.length}${change.settle === 'charge' ? 'c' : ''}`, set, (db) =>
          db
            .update(tasks)
            .set({
              ...placeholders(set, 'set_'),
              ...charge,
              ...placeholders({ updatedAt: now }),
              version: sql`${tasks.version} + 1`,
            })
            .where(and(eq(tasks.id, placeholder('id')), inArray(tasks.status, Object.keys(from).map((name) => placeholder(name)))))
            .returning(),
        );
        const updated = first(
          cas
            ? await cas(tx, { ...prefixed(set, 'set_'), ...from, id, updatedAt: now })
            : await tx
                .update(tasks)
                .set({ ...set, ...charge, updatedAt: now, version: sql`${tasks.version} + 1` })
                .where(and(eq(tasks.id, id), inArray(tasks.status, [...change.from])))
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
     * wait gives back the slot its failed submit had taken.
     */
    async reschedule(id: string, status: TaskStatus, nextCheckAt: number, checkAttempts: number, leaseUntil?: number): Promise<boolean> {
      const schedule = (db: SqliteDb) =>
        db
          .update(tasks)
          .set({ nextCheckAt, checkAttempts, ...(leaseUntil !== undefined ? { leaseExpiresAt: leaseUntil } : {}) })
          .where(and(eq(tasks.id, id), eq(tasks.status, status)))
          .returning({ id: tasks.id });
      if (status !== 'QUEUED') return run(async (db) => (await schedule(db)).length > 0);
      return transaction(async (tx) => {
        const apiKeyId = await lockKeyOf(tx, id);
        if (apiKeyId === undefined) return false;
        // Only while the task is still queued: one already at Kling keeps its slot.
        await releaseSlot(tx, id, apiKeyId, 'QUEUED');
        return (await schedule(tx)).length > 0;
      });
    },

    /**
     * Takes one of the key's `maxActive` slots at Kling for a QUEUED task about to be submitted, if the
     * task is next in line. Exact across instances: the key's row is locked while its slot count is
     * read and changed. First in, first out: older waiting tasks get the free slots first. A task that
     * already holds a slot (its earlier submit may have reached Kling) keeps it.
     */
    async reserveSubmitSlot(task: Pick<TaskRow, 'id' | 'apiKeyId' | 'createdAt'>, maxActive: number, until: number): Promise<boolean> {
      return transaction(async (tx) => {
        const key = first(
          await dialect.forUpdate(tx.select({ slotsInUse: apiKeys.slotsInUse }).from(apiKeys).where(eq(apiKeys.id, task.apiKeyId))),
        );
        const current = first(await tx.select({ status: tasks.status, holdsSlot: tasks.holdsSlot }).from(tasks).where(eq(tasks.id, task.id)));
        if (!key || current?.status !== 'QUEUED') return false;
        const reserve = (guard: SQL | undefined, set: Partial<TaskRow>) =>
          tx
            .update(tasks)
            .set({ ...set, submittingUntil: until })
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

    /** Replaces the stored video URLs (renewed upstream links); not a state change, so no version bump. */
    async updateVideos(id: string, videos: string): Promise<void> {
      await run((db) => db.update(tasks).set({ videos }).where(eq(tasks.id, id)));
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

    async countTasksForKey(apiKeyId: string, statuses: readonly TaskStatus[]): Promise<number> {
      return run(async (db) => {
        const row = first(
          await db
            .select({ n: sql`count(*)` })
            .from(tasks)
            .where(and(eq(tasks.apiKeyId, apiKeyId), inArray(tasks.status, [...statuses]))),
        );
        return toNumber(row?.n ?? 0);
      });
    },

    /** Tasks per status over every key, for metrics; a status with no tasks is absent. */
    async countTasksByStatus(): Promise<Partial<Record<TaskStatus, number>>> {
      const rows = await run((db) => db.select({ status: tasks.status, n: sql`count(*)` }).from(tasks).groupBy(tasks.status));
      return Object.fromEntries(rows.map((row) => [row.status, toNumber(row.n)]));
    },

    /** Credits held for open tasks and charged so far, summed over every key, for metrics. */
    async creditTotals(): Promise<{ held: number; charged: number }> {
      return run(async (db) => {
        const row = first(
          await db
            .select({ held: sql`coalesce(sum(${apiKeys.creditsHeld}), 0)`, charged: sql`coalesce(sum(${apiKeys.creditsUsed}), 0)` })
            .from(apiKeys),
        );
        return { held: toNumber(row?.held ?? 0), charged: toNumber(row?.charged ?? 0) };
      });
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

    async webhookDeliveriesForTask(taskId: string): Promise<WebhookDeliveryRow[]> {
      return run((db) =>
        db.select().from(webhookDeliveries).where(eq(webhookDeliveries.taskId, taskId)).orderBy(webhookDeliveries.createdAt),
      );
    },

    async webhookAttemptsOf(deliveryId: string): Promise<WebhookAttemptRow[]> {
      return run((db) =>
        db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, deliveryId)).orderBy(webhookAttempts.attempt),
      );
    },

    /** The key's settled charges in [from, to), with what each task was, for usage reports. */
    async chargesForKey(apiKeyId: string, from: number, to: number) {
      return run((db) =>
        db
          .select({
            amount: creditLedger.amount,
            chargedAt: creditLedger.createdAt,
            model: tasks.model,
            durationSeconds: tasks.durationSeconds,
            status: tasks.status,
          })
          .from(creditLedger)
          .innerJoin(tasks, eq(tasks.id, creditLedger.taskId))
          .where(
            and(
              eq(creditLedger.apiKeyId, apiKeyId),
              eq(creditLedger.kind, 'charge'),
              gte(creditLedger.createdAt, from),
              lt(creditLedger.createdAt, to),
            ),
          ),
      );
    },

    /** Sums of the ledger per kind for one key, for audits and tests. */
    async ledgerTotals(apiKeyId: string): Promise<Record<LedgerKind, number>> {
      const rows = await run((db) =>
        db
          .select({ kind: creditLedger.kind, total: sql`sum(${creditLedger.amount})` })
          .from(creditLedger)
          .where(eq(creditLedger.apiKeyId, apiKeyId))
          .groupBy(creditLedger.kind),
      );
      const totals: Record<LedgerKind, number> = { grant: 0, hold: 0, charge: 0, refund: 0 };
      for (const r of rows) totals[r.kind] = toNumber(r.total);
      return totals;
    },

    /** The key's tasks holding a slot at Kling, counted; api_keys.slots_in_use must equal it. For audits. */
    async tasksHoldingSlots(apiKeyId: string): Promise<number> {
      return run(async (db) => {
        const row = first(
          await db
            .select({ n: sql`count(*)` })
            .from(tasks)
            .where(and(eq(tasks.apiKeyId, apiKeyId), eq(tasks.holdsSlot, true))),
        );
        return toNumber(row?.n ?? 0);
      });
    },

    /** Per task, how many holds and how many settlements (charges + refunds) the ledger has; for audits. */
    async ledgerEntriesPerTask(): Promise<{ taskId: string; holds: number; settles: number }[]> {
      const rows = await run((db) =>
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
    },

    async close(): Promise<void> {
      await dialect.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;
