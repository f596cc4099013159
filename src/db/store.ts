// Every query the services use, one module per area under store/, composed here into one flat Store.
// Credits change only in the store, each time inside one transaction together with its ledger row and
// guarded by the task's current status, so a hold settles or refunds once.
import type Database from 'better-sqlite3';
import type { Dialect, SqliteDb } from './dialect.js';
import { createSqliteDialect } from './dialects/sqlite.js';
import { createApiKeyQueries } from './store/api-keys.js';
import { createStoreContext } from './store/context.js';
import { createLedger } from './store/ledger.js';
import { createPolling } from './store/polling.js';
import { createSlotQueries, createSlots } from './store/slots.js';
import { createTaskQueries } from './store/tasks.js';
import { createTransitions } from './store/transitions.js';
import { createUsage } from './store/usage.js';
import { createWebhookOutbox } from './store/webhook-outbox.js';

export type { TaskPosition } from './store/context.js';
export type { Settlement } from './store/ledger.js';
export type { ScheduleExtras } from './store/polling.js';
export type { InsertTaskOutcome, SlotRequest, TaskListFilter, TaskPage } from './store/tasks.js';
export type { Transition } from './store/transitions.js';
export type { WebhookAttemptOutcome, WebhookAttemptRecord } from './store/webhook-outbox.js';

/**
 * @param source a Dialect, or (for tools and tests on a SQLite file) a drizzle SQLite database.
 */
export function createStore(source: Dialect | SqliteDb) {
  const dialect: Dialect = 'kind' in source ? source : createSqliteDialect((source as SqliteDb & { $client: Database.Database }).$client);
  const context = createStoreContext(dialect);
  const ledger = createLedger(context);
  const slots = createSlots(context);

  return {
    dialect,
    ...createApiKeyQueries(context, ledger),
    ...createTaskQueries(context, ledger, slots),
    ...createTransitions(context, ledger, slots),
    ...createSlotQueries(context, slots),
    ...createPolling(context, slots),
    ...createWebhookOutbox(context),
    ...createUsage(context),

    async close(): Promise<void> {
      await dialect.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;
