// What every area of the store shares: the dialect and its tables, how to run a transaction, the
// statements prepared once per shape, the key lock taken before a task's credits or slot change, and
// the queue's order. Each area (api-keys.ts, tasks.ts, …) is a factory over one such context.
import { createHash } from 'node:crypto';
import { and, eq, getTableColumns, isNull, lt, or, sql } from 'drizzle-orm';
import type { Dialect, SqliteDb } from '../dialect.js';
import type { TaskRow } from '../schema.js';

export interface TaskPosition {
  createdAt: number;
  id: string;
}

export const first = <T>(rows: T[]): T | undefined => rows[0];
/** exists() arrives as a boolean from PostgreSQL and as 0/1 from SQLite. */
export const toBoolean = (value: unknown) => value === true || value === 1;
/** count(*) and sum() arrive as strings from PostgreSQL (bigint/numeric) and as numbers from SQLite. */
export const toNumber = (value: unknown) => Number(value);

/**
 * A placeholder per column. drizzle binds a placeholder in values() and set() like a value (with the
 * column's encoder), but its types list only values, hence the cast back to the row's type.
 */
export const placeholders = <T extends object>(values: T, prefix = '') =>
  Object.fromEntries(Object.keys(values).map((column) => [column, sql.placeholder(prefix + column)])) as T;
export const prefixed = (values: Record<string, unknown>, prefix: string) =>
  Object.fromEntries(Object.entries(values).map(([column, value]) => [prefix + column, value]));
export const defined = <T extends object>(values: T) =>
  Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;

export function createStoreContext(dialect: Dialect) {
  const { apiKeys, tasks } = dialect.tables;
  const transaction = <T>(fn: (tx: SqliteDb) => Promise<T>) => dialect.transaction(fn);
  const run = <T>(fn: (db: SqliteDb) => Promise<T>) => dialect.run(fn);

  /** The key's QUEUED tasks that wait for a slot at Kling (none reserved; a canceled one waits for no slot). */
  const waitingIn = (apiKeyId: string | ReturnType<typeof sql.placeholder>) =>
    and(eq(tasks.apiKeyId, apiKeyId), eq(tasks.status, 'QUEUED'), eq(tasks.holdsSlot, false), isNull(tasks.cancelRequestedAt));
  /** Tasks created before `position`, in (createdAt, id) order: the queue's and the task list's order. */
  const createdBefore = (position: TaskPosition) =>
    or(lt(tasks.createdAt, position.createdAt), and(eq(tasks.createdAt, position.createdAt), lt(tasks.id, position.id)));

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
   * Locks the row of the task's key and returns the key's id (undefined for an unknown task). Lock
   * order key → task, as reserveSubmitSlot and insertTaskWithHold take them, so two transactions on
   * one key never wait for each other in a circle (PostgreSQL).
   */
  const lockKeyOf = async (tx: SqliteDb, taskId: string) => {
    const owner = first(await tx.select({ apiKeyId: tasks.apiKeyId }).from(tasks).where(eq(tasks.id, taskId)));
    if (owner) await dialect.forUpdate(tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, owner.apiKeyId)));
    return owner?.apiKeyId;
  };

  return { dialect, tables: dialect.tables, transaction, run, waitingIn, createdBefore, byShape, lockKeyOf };
}

export type StoreContext = ReturnType<typeof createStoreContext>;
