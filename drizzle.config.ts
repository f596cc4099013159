import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations for both dialects: SQLite (the embedded default) from
// src/db/schema.ts and PostgreSQL (scale-out) from src/db/schema.pg.ts. The gateway applies them at start.
const postgres = process.env['DRIZZLE_DIALECT'] === 'postgresql';

export default postgres
  ? defineConfig({ dialect: 'postgresql', schema: './src/db/schema.pg.ts', out: './drizzle/postgres' })
  : defineConfig({ dialect: 'sqlite', schema: './src/db/schema.ts', out: './drizzle/sqlite' });
