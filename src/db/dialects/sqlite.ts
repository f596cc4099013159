// The embedded store's side of the Dialect: one better-sqlite3 connection shared by every caller,
// behind a mutex, with a statement cache in front of it and group commit for its transactions.
import type Database from 'better-sqlite3';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import type { Dialect, SqliteDb } from '../dialect.js';
import * as sqliteSchema from '../schema.js';

/** A promise chain that lets one holder at a time through. */
function createMutex() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn);
    tail = result.catch(() => undefined);
    return result;
  };
}

/** Compiled statements kept per SQL text; queries with a variable shape (IN lists, filters) make a few more. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The connection as drizzle sees it, with a statement cache in front of `prepare`. drizzle compiles
 * every query it runs afresh, and SQLite compiling the same SQL over and over was a tenth of a
 * submit's CPU. A better-sqlite3 statement is reusable: run/all/get rebind it on each call.
 */
function withStatementCache(sqlite: Database.Database): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = (source: string) => {
    let statement = cache.get(source);
    if (statement) {
      cache.delete(source); // re-inserted below: the Map's order is the recency order
    } else {
      statement = sqlite.prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value ?? '');
    }
    cache.set(source, statement);
    // drizzle switches a reading statement to raw (array) rows when it wants them, and expects object rows otherwise.
    return statement.reader ? statement.raw(false) : statement;
  };
  return new Proxy(sqlite, {
    get(target, property) {
      if (property === 'prepare') return prepare;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Transactions that share one commit at most; bounds how long the first of them waits for it. */
const GROUP_COMMIT_MAX = 64;

interface PendingTransaction {
  fn: (tx: SqliteDb) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit. Every transaction waits for the one connection anyway; those that queued up while it
 * was busy run together in one BEGIN IMMEDIATE … COMMIT, each inside its own savepoint, so one that
 * fails rolls back alone, as if it had run by itself. A commit writes every page it touched to the WAL,
 * and that write was the largest cost of a status change; now one write carries up to 64 of them.
 * Nobody hears "done" before the shared COMMIT, and if the COMMIT fails, every transaction in it fails.
 */
function createGroupCommit(sqlite: Database.Database, db: SqliteDb, exclusive: <T>(fn: () => Promise<T>) => Promise<T>) {
  const statement = (source: string) => sqlite.prepare(source);
  // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading read locks.
  const begin = statement('BEGIN IMMEDIATE');
  const commit = statement('COMMIT');
  const rollback = statement('ROLLBACK');
  const savepoint = statement('SAVEPOINT grouped');
  const release = statement('RELEASE grouped');
  const rollbackTo = statement('ROLLBACK TO grouped');
  const queue: PendingTransaction[] = [];
  let drainQueued = false;

  const runBatch = async (batch: PendingTransaction[]) => {
    const outcomes: (() => void)[] = [];
    try {
      begin.run();
      for (const job of batch) {
        savepoint.run();
        try {
          const value = await job.fn(db);
          release.run();
          outcomes.push(() => job.resolve(value));
        } catch (error) {
          // SQLite ends the whole transaction on some errors (a full disk, say): then all of it is lost.
          if (!sqlite.inTransaction) throw error;
          rollbackTo.run();
          release.run();
          outcomes.push(() => job.reject(error));
        }
      }
      commit.run();
    } catch (error) {
      if (sqlite.inTransaction) rollback.run();
      for (const job of batch) job.reject(error);
      return;
    }
    for (const settle of outcomes) settle();
  };

  const drain = async () => {
    drainQueued = false;
    const batch = queue.splice(0, GROUP_COMMIT_MAX);
    if (queue.length > 0) queueDrain();
    if (batch.length > 0) await runBatch(batch);
  };
  const queueDrain = () => {
    drainQueued = true;
    // After this turn's I/O callbacks (setImmediate runs after the poll phase): the requests that
    // arrived together queue their transactions first, and then share one commit.
    setImmediate(() => void exclusive(drain));
  };

  return <T>(fn: (tx: SqliteDb) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!drainQueued) queueDrain();
    });
}

export function createSqliteDialect(sqlite: Database.Database): Dialect {
  const db = drizzleSqlite(withStatementCache(sqlite), { schema: sqliteSchema });
  // One connection serves every caller. An async transaction yields between statements, so without
  // this lock another request's statement could run inside it (and be rolled back with it).
  const exclusive = createMutex();
  return {
    kind: 'sqlite',
    db,
    tables: sqliteSchema,
    transaction: createGroupCommit(sqlite, db, exclusive),
    run: (fn) => exclusive(() => fn(db)),
    // SQLite has one writer at a time; the IMMEDIATE transaction already serialises claims.
    skipLocked: (query) => query,
    forUpdate: (query) => query,
    prepare: <Row>(_name: string, query: { prepare(name?: string): unknown }) => {
      const statement = query.prepare() as { all(params: Record<string, unknown>): Row[] };
      return (params: Record<string, unknown>) => exclusive(async () => statement.all(params));
    },
    prepareIn: <Row>(_name: string, build: (db: SqliteDb) => { prepare(name?: string): unknown }) => {
      let statement: { all(params: Record<string, unknown>): Row[] } | undefined;
      // Built on first use: a store whose caller never takes this path never compiles it.
      return async (_db: SqliteDb, params: Record<string, unknown>) => {
        statement ??= build(db).prepare() as { all(params: Record<string, unknown>): Row[] };
        return statement.all(params);
      };
    },
    ping: async () => {
      sqlite.prepare('SELECT 1').get();
    },
    close: async () => {
      if (sqlite.open) sqlite.close();
    },
  };
}
