// Opens the embedded SQLite store and brings its schema up to date before anything else touches it.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle/sqlite', import.meta.url));

export type SqliteDb = BetterSQLite3Database<typeof schema>;

export interface OpenedDatabase {
  db: SqliteDb;
  /** The raw handle, for pragmas and checkpoints. */
  sqlite: Database.Database;
  /** True when the schema was created just now (a fresh database). */
  fresh: boolean;
  close(): void;
}

/** Accepts a file path, a `file:` URL or `:memory:`. */
export function sqlitePathOf(url: string): string {
  if (url === ':memory:' || url === 'file::memory:') return ':memory:';
  if (url.startsWith('file:')) return fileURLToPath(new URL(url, 'file://' + process.cwd() + '/'));
  return resolve(url);
}

export function openSqlite(url: string): OpenedDatabase {
  const path = sqlitePathOf(url);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  // Writers queue for up to 5 s instead of failing at once when another process holds the lock.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // WAL makes NORMAL durable against application crashes; only an OS crash can lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  const hadSchema =
    sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").get() !== undefined;
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  let closed = false;
  return {
    db,
    sqlite,
    fresh: !hadSchema,
    close() {
      if (closed) return;
      closed = true;
      sqlite.close();
    },
  };
}
