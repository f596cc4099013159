// Entry point of `npm run keys`: opens the gateway's own database (no HTTP server, no Kling client) and
// runs one command from keys-command.ts. Safe beside a running gateway: SQLite in WAL mode with a busy timeout.
import { createApiKeys } from '../auth/api-keys.js';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig } from '../config/env.js';
import { openSqlite, type OpenedDatabase } from '../db/connection.js';
import { createStore } from '../db/store.js';
import { KeysCliError, runKeysCommand } from './keys-command.js';

let database: OpenedDatabase | undefined;

function openApiKeys() {
  const url = loadConfig(process.env).db.url;
  if (/^postgres(ql)?:/i.test(url)) {
    throw new KeysCliError('DATABASE_URL is a PostgreSQL URL; this command manages keys in the embedded SQLite database only.', false);
  }
  database = openSqlite(url);
  return createApiKeys({ store: createStore(database.db), clock: systemClock });
}

try {
  process.exitCode = await runKeysCommand(process.argv.slice(2), {
    apiKeys: openApiKeys,
    out: (text) => console.log(text),
    err: (text) => console.error(text),
  });
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exitCode = 1;
} finally {
  database?.close();
}
