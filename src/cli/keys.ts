// Entry point of `npm run keys`: opens the gateway's own database (no HTTP server, no Kling client) and
// runs one command from keys-command.ts. Safe beside running gateways: SQLite in WAL mode with a busy
// timeout, or the same PostgreSQL database they share.
import { createApiKeys } from '../auth/api-keys.js';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig } from '../config/env.js';
import { openDatabase, type OpenedDatabase } from '../db/connection.js';
import { createStore } from '../db/store.js';
import { runKeysCommand } from './keys-command.js';

let database: OpenedDatabase | undefined;

async function openApiKeys() {
  database = await openDatabase(loadConfig(process.env).db);
  return createApiKeys({ store: createStore(database.dialect), clock: systemClock });
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
  await database?.close();
}
