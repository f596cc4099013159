// Opens the store named by DATABASE_URL (a SQLite file by default, or PostgreSQL) and brings its
// schema up to date before anything else touches it.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { migrate as migrateSqlite } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { PROJECT_ROOT } from '../project-root.js';
import type { Dialect, SqliteDb } from './dialect.js';
import { createPostgresDialect } from './dialects/postgres.js';
import { createSqliteDialect } from './dialects/sqlite.js';

const MIGRATIONS = {
  sqlite: join(PROJECT_ROOT, 'drizzle', 'sqlite'),
  postgres: join(PROJECT_ROOT, 'drizzle', 'postgres'),
};

/** Any constant will do: it only has to be the same in every instance that migrates this database. */
const MIGRATION_LOCK_ID = 4_171_717;

export interface OpenedSqlite {
  dialect: Dialect;
  db: SqliteDb;
  /** The raw handle, for pragmas and checkpoints. */
  sqlite: Database.Database;
  /** True when the schema was created just now (a fresh database). */
  fresh: boolean;
  close(): void;
}

export interface OpenedDatabase {
  dialect: Dialect;
  /** True when the schema was created just now (a fresh database). */
  fresh: boolean;
  close(): Promise<void>;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** Accepts a file path, a `file:` URL or `:memory:`. */
export function sqlitePathOf(url: string): string {
  if (url === ':memory:' || url === 'file::memory:') return ':memory:';
  if (url.startsWith('file:')) return fileURLToPath(new URL(url, 'file://' + process.cwd() + '/'));
  return resolve(url);
}

/**
 * Applies the SQLite migrations with foreign keys off, as SQLite's own procedure for changing a table
 * says. A migration that changes a column or a CHECK rebuilds the table (drizzle-kit: create the new
 * table, copy, drop the old, rename), and with foreign keys on, dropping `tasks` while ledger rows
 * point at it fails. The migration's own `PRAGMA foreign_keys=OFF` cannot help: it is a no-op inside
 * the one transaction drizzle runs the migrations in. When any migration ran, the keys are checked.
 */
function migrateSqliteSchema(sqlite: Database.Database, db: SqliteDb) {
  const applied = () =>
    sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get() === undefined
      ? 0
      : Number(sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get());
  const before = applied();
  sqlite.pragma('foreign_keys = OFF');
  migrateSqlite(db, { migrationsFolder: MIGRATIONS.sqlite });
  if (applied() === before) return;
  const dangling = sqlite.pragma('foreign_key_check') as unknown[];
  if (dangling.length > 0) throw new Error(`The SQLite migrations left ${dangling.length} rows whose foreign keys point nowhere`);
}

export function openSqlite(url: string): OpenedSqlite {
  const path = sqlitePathOf(url);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  // Writers queue for up to 5 s instead of failing at once when another process holds the lock.
  sqlite.pragma('busy_timeout = 5000');
  // WAL makes NORMAL durable against application crashes; only an OS crash can lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  const hadSchema =
    sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").get() !== undefined;
  const dialect = createSqliteDialect(sqlite);
  migrateSqliteSchema(sqlite, dialect.db);
  sqlite.pragma('foreign_keys = ON');
  return {
    dialect,
    db: dialect.db,
    sqlite,
    fresh: !hadSchema,
    close() {
      if (sqlite.open) sqlite.close();
    },
  };
}

/**
 * Opens PostgreSQL and applies its migrations under an advisory lock, so instances that start
 * together apply them once.
 */
export async function openPostgres(
  url: string,
  poolSize = 10,
  onIdleError: (error: Error) => void = () => undefined,
): Promise<OpenedDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle pooled connection that the server drops (restart, failover, admin kill) emits 'error' on
  // the pool; unheard, that would end the process. The pool replaces the connection on next use.
  pool.on('error', onIdleError);
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      try {
        const existing = await client.query("SELECT to_regclass('public.api_keys') IS NOT NULL AS present");
        const fresh = !(existing.rows[0] as { present: boolean }).present;
        await migratePg(drizzlePg(client), { migrationsFolder: MIGRATIONS.postgres });
        const dialect = createPostgresDialect(pool);
        return { dialect, fresh, close: () => dialect.close() };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      }
    } finally {
      client.release();
    }
  } catch (error) {
    // Idle pooled connections would keep the process alive after a failed start.
    await pool.end();
    throw error;
  }
}

export async function openDatabase(
  config: { url: string; poolSize: number },
  onIdleError?: (error: Error) => void,
): Promise<OpenedDatabase> {
  if (isPostgresUrl(config.url)) return openPostgres(config.url, config.poolSize, onIdleError);
  const opened = openSqlite(config.url);
  return { dialect: opened.dialect, fresh: opened.fresh, close: async () => opened.close() };
}
