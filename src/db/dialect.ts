// What differs between the embedded store (SQLite) and scale-out (PostgreSQL), kept to the few things
// the dialects force: how a transaction runs, how claimed rows are locked, how to close and ping.
// Everything else (every query) is written once, in store/. Each database's side is in dialects/.
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type * as sqliteSchema from './schema.js';

export type SqliteDb = BetterSQLite3Database<typeof sqliteSchema>;

export type Tables = Pick<typeof sqliteSchema, 'apiKeys' | 'tasks' | 'creditLedger' | 'webhookDeliveries' | 'webhookAttempts'>;

export interface Dialect {
  kind: 'sqlite' | 'postgres';
  /**
   * The drizzle database, typed as the SQLite flavour. PostgreSQL's builder has the same API for every
   * query the store makes, and schema.pg.ts proves the row types equal, so one typing serves both.
   */
  db: SqliteDb;
  tables: Tables;
  /** Runs `fn` in one transaction that takes write locks up front. */
  transaction<T>(fn: (tx: SqliteDb) => Promise<T>): Promise<T>;
  /** Runs statements outside a transaction (on SQLite, never interleaved with one). */
  run<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T>;
  /** Rows selected for a claim are locked so concurrent claimers skip them (FOR UPDATE SKIP LOCKED). */
  skipLocked<Q>(query: Q): Q;
  /** Rows selected are locked until the transaction ends (FOR UPDATE), serialising writers of one row. */
  forUpdate<Q>(query: Q): Q;
  /**
   * Builds a query once and runs it many times with placeholder values: no SQL is rebuilt and no
   * statement re-prepared per call. `name` names the server-side statement on PostgreSQL.
   */
  prepare<Row>(name: string, query: { prepare(name?: string): unknown }): (params: Record<string, unknown>) => Promise<Row[]>;
  /**
   * Like prepare, for statements that run on the caller's transaction (or database): SQLite compiles
   * the statement once (its one connection is every transaction's); PostgreSQL builds it on the given
   * transaction and runs it as the named statement `name`, which each pooled connection parses once.
   */
  prepareIn<Row>(
    name: string,
    build: (db: SqliteDb) => { prepare(name?: string): unknown },
  ): (db: SqliteDb, params: Record<string, unknown>) => Promise<Row[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
