// Scale-out's side of the Dialect: a pg pool, drizzle's transactions on it, and row locks for claims.
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { Pool } from 'pg';
import type { Dialect, SqliteDb, Tables } from '../dialect.js';
import * as pgSchema from '../schema.pg.js';

interface Lockable {
  for(strength: 'update', options?: { skipLocked?: boolean }): unknown;
}

export function createPostgresDialect(pool: Pool): Dialect {
  const db = drizzlePg(pool, { schema: pgSchema });
  // See Dialect.db: the PostgreSQL database and tables are used through the SQLite typing.
  const asSqlite = (value: unknown) => value as SqliteDb;
  return {
    kind: 'postgres',
    db: asSqlite(db),
    tables: pgSchema as unknown as Tables,
    transaction: (fn) => db.transaction((tx) => fn(asSqlite(tx))),
    run: (fn) => fn(asSqlite(db)),
    skipLocked: (query) => (query as unknown as Lockable).for('update', { skipLocked: true }) as typeof query,
    forUpdate: (query) => (query as unknown as Lockable).for('update') as typeof query,
    prepare: <Row>(name: string, query: { prepare(name?: string): unknown }) => {
      const statement = query.prepare(name) as { execute(params: Record<string, unknown>): Promise<Row[]> };
      return (params: Record<string, unknown>) => statement.execute(params);
    },
    prepareIn: <Row>(name: string, build: (db: SqliteDb) => { prepare(name?: string): unknown }) =>
      (tx: SqliteDb, params: Record<string, unknown>) =>
        (build(tx).prepare(name) as { execute(params: Record<string, unknown>): Promise<Row[]> }).execute(params),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}
