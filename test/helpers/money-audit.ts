// The money invariants of the model-based test (test/integration/money-model.test.ts): what the
// database says about keys, tasks and the ledger, set against what Kling (the simulator) holds.
// Reads go through the store's dialect, so they mean the same on SQLite and PostgreSQL.
import { eq, isNotNull, sql } from 'drizzle-orm';
import type { LedgerKind, TaskRow } from '../../src/db/schema.js';
import type { Store } from '../../src/db/store.js';
import { isTerminal } from '../../src/db/task-status.js';
import type { KlingTask } from '../../src/kling/types.js';

/** count(*) and sum() arrive as strings from PostgreSQL and as numbers from SQLite. */
const toNumber = (value: unknown) => Number(value ?? 0);

export interface KeyState {
  id: string;
  /** What the test granted the key. */
  grant: number;
  creditBalance: number;
  creditsHeld: number;
  creditsUsed: number;
  slotsInUse: number;
  /** The key's ledger summed per kind. */
  ledger: Record<LedgerKind, number>;
}

export interface TaskState {
  row: TaskRow;
  /** Ledger rows of this task, counted per kind. */
  entries: Record<LedgerKind, number>;
}

export interface StoreSnapshot {
  keys: KeyState[];
  tasks: TaskState[];
}

const emptyKinds = (): Record<LedgerKind, number> => ({ grant: 0, hold: 0, charge: 0, refund: 0 });

/** Every key the test made, and every task in the database with its ledger rows. */
export async function snapshotStore(store: Store, keys: readonly { id: string; grant: number }[]): Promise<StoreSnapshot> {
  const { apiKeys, creditLedger, tasks } = store.dialect.tables;
  const keyStates: KeyState[] = [];
  for (const key of keys) {
    const [row] = await store.dialect.run((db) => db.select().from(apiKeys).where(eq(apiKeys.id, key.id)));
    if (!row) throw new Error(`key ${key.id} is missing from the database`);
    const sums = await store.dialect.run((db) =>
      db
        .select({ kind: creditLedger.kind, total: sql`sum(${creditLedger.amount})` })
        .from(creditLedger)
        .where(eq(creditLedger.apiKeyId, key.id))
        .groupBy(creditLedger.kind),
    );
    const ledger = emptyKinds();
    for (const sum of sums) ledger[sum.kind] = toNumber(sum.total);
    keyStates.push({
      id: key.id,
      grant: key.grant,
      creditBalance: row.creditBalance,
      creditsHeld: row.creditsHeld,
      creditsUsed: row.creditsUsed,
      slotsInUse: row.slotsInUse,
      ledger,
    });
  }
  const rows = await store.dialect.run((db) => db.select().from(tasks).orderBy(tasks.createdAt, tasks.id));
  const counts = await store.dialect.run((db) =>
    db
      .select({ taskId: creditLedger.taskId, kind: creditLedger.kind, n: sql`count(*)` })
      .from(creditLedger)
      .where(isNotNull(creditLedger.taskId))
      .groupBy(creditLedger.taskId, creditLedger.kind),
  );
  const perTask = new Map<string, Record<LedgerKind, number>>();
  for (const count of counts) {
    const taskId = count.taskId ?? '';
    const entries = perTask.get(taskId) ?? emptyKinds();
    entries[count.kind] += toNumber(count.n);
    perTask.set(taskId, entries);
  }
  return { keys: keyStates, tasks: rows.map((row) => ({ row, entries: perTask.get(row.id) ?? emptyKinds() })) };
}

/** What Kling has and had, per external id (= our task id). */
export interface KlingView {
  /** The task Kling holds now for each external id, as a query would show it now. */
  holds: ReadonlyMap<string, KlingTask>;
  /** Creates Kling accepted per external id, ever (the simulator's tasksPerExternalId). */
  created: ReadonlyMap<string, number>;
  /** Tasks the test made Kling lose, per external id. */
  forgotten: ReadonlyMap<string, number>;
}

export interface AuditOptions {
  /** KEY_MAX_ACTIVE_TASKS. */
  maxActivePerKey: number;
  /** After the drain: every task must be terminal and Kling must hold no duplicates. */
  final: boolean;
  /** Also the checks that are not about money (marked "+"): a task at Kling holds one of its key's slots. */
  extra: boolean;
}

const describeTask = (task: TaskState) => {
  const r = task.row;
  return (
    `${r.id} [${r.status}${r.cancelRequestedAt !== null ? ', cancel requested' : ''}${r.holdsSlot ? ', holds slot' : ''}` +
    `${r.submitSentAt !== null ? ', maybe sent' : ''}, kling ${r.klingTaskId ?? '-'}, charged ${r.creditsCharged}/${r.credits}` +
    `, failure ${r.failureCode ?? '-'}, prompt ${JSON.stringify(r.prompt)}] ledger ${JSON.stringify(task.entries)}`
  );
};

/**
 * The invariants, numbered as in the test's header (5+ is not about money; see AuditOptions.extra).
 * Returns one line per violation; empty when the state is sound.
 */
export function moneyViolations(snapshot: StoreSnapshot, kling: KlingView, options: AuditOptions): string[] {
  const problems: string[] = [];
  const fail = (invariant: string, message: string) => problems.push(`invariant ${invariant}: ${message}`);

  for (const key of snapshot.keys) {
    const { creditBalance: balance, creditsHeld: held, creditsUsed: used, ledger } = key;
    // 3. No balance goes negative.
    if (balance < 0 || held < 0 || used < 0) fail('3', `key ${key.id} has balance ${balance}, held ${held}, used ${used}`);
    // 4. Credits are neither made nor lost: balance + held + used is the grant, and the ledger agrees.
    if (balance + held + used !== key.grant || ledger.grant !== key.grant) {
      fail('4', `key ${key.id}: balance ${balance} + held ${held} + used ${used} != grant ${key.grant} (ledger grants ${ledger.grant})`);
    }
    if (held !== ledger.hold - ledger.charge - ledger.refund || used !== ledger.charge) {
      fail('4', `key ${key.id}: held ${held} / used ${used} disagree with the ledger ${JSON.stringify(ledger)}`);
    }
    // 5. The slot counter is the number of the key's tasks holding a slot, and never above the limit.
    const holding = snapshot.tasks.filter((t) => t.row.apiKeyId === key.id && t.row.holdsSlot).length;
    if (key.slotsInUse !== holding) fail('5', `key ${key.id}: slotsInUse ${key.slotsInUse} but ${holding} tasks hold a slot`);
    if (key.slotsInUse > options.maxActivePerKey) fail('5', `key ${key.id}: slotsInUse ${key.slotsInUse} > ${options.maxActivePerKey}`);
  }

  for (const task of snapshot.tasks) {
    const { row, entries } = task;
    const settles = entries.charge + entries.refund;
    const terminal = isTerminal(row.status);
    // 1. One hold, at most one settlement; a terminal task exactly one, an open task none.
    if (entries.hold !== 1 || settles > 1) fail('1', `task has ${entries.hold} holds and ${settles} settlements: ${describeTask(task)}`);
    else if (terminal && settles !== 1) fail('1', `terminal task is not settled: ${describeTask(task)}`);
    else if (!terminal && settles !== 0) fail('1', `open task is settled: ${describeTask(task)}`);
    // 1. The settlement matches the status: success is charged, failure refunded; the row says so too.
    if (row.status === 'SUCCEEDED' && entries.charge !== 1) fail('1', `succeeded task not charged: ${describeTask(task)}`);
    if (row.status === 'FAILED' && entries.refund !== 1) fail('1', `failed task not refunded: ${describeTask(task)}`);
    if ((entries.charge === 1) !== (row.creditsCharged === row.credits) || (entries.charge === 0 && row.creditsCharged !== 0)) {
      fail('1', `creditsCharged disagrees with the ledger: ${describeTask(task)}`);
    }
    // 5+. A task at Kling holds one of its key's slots (else the key can have more than its limit there).
    if (options.extra && (row.status === 'SUBMITTED' || row.status === 'PROCESSING') && !row.holdsSlot) {
      fail('5+', `at Kling without a slot: ${describeTask(task)}`);
    }
    // 5. A finished task holds no slot.
    if (terminal && row.holdsSlot) fail('5', `terminal task still holds a slot: ${describeTask(task)}`);

    // 2. A task Kling holds is never refunded, unless Kling failed it (then Kling bills nothing).
    const atKling = kling.holds.get(row.id);
    if (entries.refund > 0 && atKling !== undefined && atKling.status !== 'failed') {
      fail('2', `refunded while Kling holds it (${atKling.taskId}, ${atKling.status}): ${describeTask(task)}`);
    }
    // 6. A task is charged only if Kling took it.
    if (entries.charge > 0 && (kling.created.get(row.id) ?? 0) === 0) fail('6', `charged but Kling never took it: ${describeTask(task)}`);

    if (options.final) {
      // 7. Nothing stays open past its deadline once Kling behaves; one task at Kling per external id.
      if (!terminal) fail('7', `still open after the drain: ${describeTask(task)}`);
      const created = kling.created.get(row.id) ?? 0;
      const lost = kling.forgotten.get(row.id) ?? 0;
      if (created > 1 + lost) fail('7', `Kling got ${created} tasks for it (lost ${lost}): ${describeTask(task)}`);
    }
  }
  return problems;
}
