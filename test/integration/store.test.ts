// The store's bookkeeping below the GraphQL surface: the per-key slot counter, the statements prepared
// per shape, the migration that introduced the counter and the one that typed the status column. On
// SQLite, and with TEST_SCALE_OUT=1 (the status migration: whenever it is reachable) on PostgreSQL too.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, openPostgres, openSqlite, type OpenedDatabase } from '../../src/db/connection.js';
import type { NewTaskRow } from '../../src/db/schema.js';
import { createStore, type Store, type Transition } from '../../src/db/store.js';
import { TASK_STATUSES } from '../../src/db/task-status.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { SCALE_OUT } from '../helpers/start-gateway.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/services.js';
import { ledgerTotals, tasksHoldingSlots } from '../helpers/store-audit.js';

const NOW = 1_700_000_000_000;
let counter = 0;

function newTask(apiKeyId: string, extra: Partial<NewTaskRow> = {}): NewTaskRow & { createdAt: number } {
  counter += 1;
  return {
    id: `vt_store_${String(counter).padStart(6, '0')}`,
    apiKeyId,
    status: 'QUEUED',
    prompt: `Store test ${counter}`,
    negativePrompt: null,
    model: 'KLING_V1',
    mode: 'STANDARD',
    aspectRatio: 'RATIO_16_9',
    durationSeconds: 5,
    cfgScale: null,
    cameraControl: null,
    generateAudio: false,
    webhookUrl: null,
    idempotencyKey: null,
    inputFingerprint: `fp${counter}`,
    credits: 10,
    callbackToken: `token${counter}`,
    createdAt: NOW + counter,
    updatedAt: NOW + counter,
    deadlineAt: NOW + 3_600_000,
    nextCheckAt: NOW,
    ...extra,
  };
}

describe.each(SCALE_OUT ? ['sqlite', 'postgres'] : ['sqlite'])('the store on %s', (kind) => {
  let opened: OpenedDatabase;
  let store: Store;

  beforeAll(async () => {
    opened = await openDatabase({ url: kind === 'postgres' ? await freshPostgresDatabase() : ':memory:', poolSize: 4 });
    store = createStore(opened.dialect);
  });
  afterAll(() => opened.close());

  async function newKey(credits = 1_000) {
    counter += 1;
    const key = await store.insertApiKey(
      { id: `key_store_${counter}`, name: `store ${counter}`, keyHash: `hash${counter}`, keyPrefix: 'kgw_x', webhookSecret: 'whsec_x', createdAt: NOW },
      credits,
    );
    return key.id;
  }

  const slotsOf = async (keyId: string) => [(await store.getApiKey(keyId))?.slotsInUse, await tasksHoldingSlots(store, keyId)];

  it('takes a slot with the hold while one is free and nobody waits, and queues the task otherwise', async () => {
    const keyId = await newKey();
    const slot = { maxActive: 2, until: NOW + 30_000 };
    const outcomes = [];
    for (let n = 0; n < 3; n++) outcomes.push(await store.insertTaskWithHold(newTask(keyId), slot));
    expect(outcomes.map((o) => o.kind === 'created' && o.task.holdsSlot)).toEqual([true, true, false]);
    expect(await slotsOf(keyId)).toEqual([2, 2]);
    expect(await store.getApiKey(keyId)).toMatchObject({ creditBalance: 970, creditsHeld: 30 });
  });

  it('gives a slot back exactly once, whoever ends the task, and keeps it for a task that already holds it', async () => {
    const keyId = await newKey();
    const created = await store.insertTaskWithHold(newTask(keyId), { maxActive: 1, until: NOW + 30_000 });
    if (created.kind !== 'created') throw new Error(created.kind);
    const waiting = await store.insertTaskWithHold(newTask(keyId), { maxActive: 1, until: NOW + 30_000 });
    if (waiting.kind !== 'created') throw new Error(waiting.kind);
    expect(waiting.task.holdsSlot).toBe(false);

    // A dispatcher taking over the first task (its submit may have reached Kling) keeps its slot.
    expect(await store.reserveSubmitSlot(created.task, 1, NOW + 60_000, NOW)).toBe(true);
    expect(await store.reserveSubmitSlot(waiting.task, 1, NOW + 60_000, NOW)).toBe(false);
    expect(await slotsOf(keyId)).toEqual([1, 1]);

    const submitted = await store.transition(created.task.id, { from: ['QUEUED'], set: { status: 'SUBMITTED', klingTaskId: 'k1', submittedAt: NOW } }, NOW);
    expect(submitted).toMatchObject({ status: 'SUBMITTED', holdsSlot: true });
    const end: Transition = { from: ['SUBMITTED', 'PROCESSING'], set: { status: 'SUCCEEDED', completedAt: NOW, nextCheckAt: null }, settle: 'charge' };
    const [first, second] = await Promise.all([store.transition(created.task.id, end, NOW), store.transition(created.task.id, end, NOW)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect(await slotsOf(keyId)).toEqual([0, 0]);

    // The freed slot goes to the waiting task. An ambiguous submit (Kling may have the task) puts it
    // back to wait with its slot kept; a clear refusal of that first send frees the slot again.
    expect(await store.reserveSubmitSlot(waiting.task, 1, NOW + 60_000, NOW)).toBe(true);
    expect(await slotsOf(keyId)).toEqual([1, 1]);
    expect(await store.reschedule(waiting.task.id, 'QUEUED', NOW + 500, 1)).toBe(true);
    expect(await slotsOf(keyId)).toEqual([1, 1]);
    expect(await store.reschedule(waiting.task.id, 'QUEUED', NOW + 1_000, 1, undefined, { submitSentAt: null })).toBe(true);
    expect(await slotsOf(keyId)).toEqual([0, 0]);
    expect(await store.reschedule(waiting.task.id, 'QUEUED', NOW + 2_000, 2)).toBe(true);
    expect(await slotsOf(keyId)).toEqual([0, 0]);
    expect(await store.getApiKey(keyId)).toMatchObject({ creditsHeld: 10, creditsUsed: 10 });
  });

  it('stores a null in a boolean column as null and true as true, through prepared and ordinary statements alike', async () => {
    const keyId = await newKey();
    const created = await store.insertTaskWithHold(newTask(keyId, { failureRetryable: null }));
    if (created.kind !== 'created') throw new Error(created.kind);
    expect(created.task.failureRetryable).toBeNull();
    const failed = await store.transition(
      created.task.id,
      { from: ['QUEUED'], set: { status: 'FAILED', failureCode: 'UPSTREAM_ERROR', failureRetryable: true, nextCheckAt: null }, settle: 'refund' },
      NOW,
    );
    expect(failed).toMatchObject({ failureRetryable: true, nextCheckAt: null, version: 2 });
    const other = await store.insertTaskWithHold(newTask(keyId));
    if (other.kind !== 'created') throw new Error(other.kind);
    const cleared = await store.transition(other.task.id, { from: ['QUEUED'], set: { failureRetryable: null, checkAttempts: 3 } }, NOW + 5);
    expect(cleared).toMatchObject({ failureRetryable: null, checkAttempts: 3, updatedAt: NOW + 5 });
    expect(await store.getTask(other.task.id)).toMatchObject({ failureRetryable: null, checkAttempts: 3 });
  });
});

describe('group commit on SQLite', () => {
  it('runs transactions that queued together in one commit, and rolls back only the one that failed', async () => {
    const opened = await openDatabase({ url: ':memory:', poolSize: 1 });
    try {
      const store = createStore(opened.dialect);
      const key = await store.insertApiKey(
        { id: 'key_group', name: 'group', keyHash: 'hash_group', keyPrefix: 'kgw_x', webhookSecret: 'whsec_x', createdAt: NOW },
        0,
      );
      const { apiKeys } = opened.dialect.tables;
      // All queued before the connection is free, so they share one batch: the failure sits in its middle.
      const before = Array.from({ length: 10 }, (_, n) => store.grantCredits(key.id, n + 1, NOW));
      const failing = opened.dialect.transaction(async (tx) => {
        await tx.update(apiKeys).set({ creditBalance: 1_000_000 }).where(eq(apiKeys.id, key.id));
        throw new Error('refused halfway');
      });
      const after = Array.from({ length: 10 }, () => store.grantCredits(key.id, 100, NOW));
      await expect(failing).rejects.toThrow('refused halfway');
      await Promise.all([...before, ...after]);
      expect((await store.getApiKey(key.id))?.creditBalance).toBe(55 + 1_000);
      expect((await ledgerTotals(store, key.id)).grant).toBe(55 + 1_000);
    } finally {
      await opened.close();
    }
  });
});

/** A copy of the dialect's migrations as they were before `tag`: the journal without it and what followed. */
function migrationsBefore(dir: string, dialect: 'sqlite' | 'postgres', tag: string): string {
  const before = join(dir, `migrations-${dialect}`);
  cpSync(join(PROJECT_ROOT, 'drizzle', dialect), before, { recursive: true });
  const journalFile = join(before, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const at = journal.entries.findIndex((entry) => entry.tag === tag);
  expect(at).toBeGreaterThan(0);
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
  return before;
}

describe('the slot-counter migration', () => {
  it('counts the slots that tasks at Kling and submits in flight already hold', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-migration-'));
    try {
      // The migrations as they were before the counter.
      const before = migrationsBefore(dir, 'sqlite', '0004_slot_counter');

      const file = join(dir, 'gateway.db');
      const old = new Database(file);
      migrate(drizzle(old), { migrationsFolder: before });
      old
        .prepare("INSERT INTO api_keys (id, name, key_hash, key_prefix, webhook_secret, created_at) VALUES (?, ?, ?, 'kgw_', 'whsec_', 0)")
        .run('key_a', 'a', 'ha');
      const insert = old.prepare(
        `INSERT INTO tasks (id, api_key_id, status, prompt, model, mode, aspect_ratio, duration_seconds, generate_audio,
           input_fingerprint, credits, callback_token, created_at, updated_at, deadline_at, submitting_until)
         VALUES (?, 'key_a', ?, 'p', 'KLING_V1', 'STANDARD', 'RATIO_16_9', 5, 0, 'f', 10, 't', 0, 0, 1, ?)`,
      );
      insert.run('t_submitted', 'SUBMITTED', null);
      insert.run('t_processing', 'PROCESSING', null);
      insert.run('t_in_flight', 'QUEUED', 5);
      insert.run('t_waiting', 'QUEUED', null);
      insert.run('t_done', 'SUCCEEDED', null);
      old.close();

      const migrated = openSqlite(file);
      try {
        const held = migrated.sqlite.prepare('SELECT id FROM tasks WHERE holds_slot = 1 ORDER BY id').pluck().all();
        expect(held).toEqual(['t_in_flight', 't_processing', 't_submitted']);
        expect(migrated.sqlite.prepare("SELECT slots_in_use FROM api_keys WHERE id = 'key_a'").pluck().get()).toBe(3);
      } finally {
        migrated.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the task-status migration', () => {
  // One task in every state, its ledger rows, a webhook delivery and its attempt: rows that point at
  // tasks, which a rebuild of the tasks table must keep pointing at them.
  const seed = [
    `INSERT INTO api_keys (id, name, key_hash, key_prefix, webhook_secret, created_at, credit_balance, credits_held, credits_used)
       VALUES ('key_a', 'a', 'ha', 'kgw_', 'whsec_', 0, 400, 100, 100)`,
    ...TASK_STATUSES.map(
      (status, n) =>
        `INSERT INTO tasks (id, api_key_id, status, prompt, model, mode, aspect_ratio, duration_seconds, generate_audio,
           input_fingerprint, credits, callback_token, created_at, updated_at, deadline_at, idempotency_key, holds_slot, next_check_at)
         VALUES ('t_${status.toLowerCase()}', 'key_a', '${status}', 'p${n}', 'KLING_V1', 'STANDARD', 'RATIO_16_9', 5, false,
           'f${n}', 100, 't${n}', ${n}, ${n}, 3600000, ${n % 2 === 0 ? `'order-${n}'` : 'NULL'}, ${status === 'PROCESSING'}, ${n})`,
    ),
    `INSERT INTO credit_ledger (api_key_id, task_id, kind, amount, created_at) VALUES
       ('key_a', NULL, 'grant', 600, 0), ('key_a', 't_processing', 'hold', 100, 1),
       ('key_a', 't_succeeded', 'hold', 100, 2), ('key_a', 't_succeeded', 'charge', 100, 3)`,
    `INSERT INTO webhook_deliveries (id, task_id, api_key_id, url, event, payload, status, attempts, created_at)
       VALUES ('wd_1', 't_succeeded', 'key_a', 'https://example.com/hook', 'video_task.succeeded', '{}', 'delivered', 1, 4)`,
    `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, attempted_at) VALUES ('wd_1', 1, 200, 5, 5)`,
  ];
  const tables = ['tasks', 'credit_ledger', 'webhook_deliveries', 'webhook_attempts'];
  /** The rows of `after` cut down to the columns `before` had, table by table. */
  const sameColumnsAs = (after: unknown[][], before: unknown[][]) =>
    after.map((rows, table) =>
      rows.map((row, n) => {
        const columns = Object.keys((before[table]?.[n] ?? {}));
        return Object.fromEntries(Object.entries(row as object).filter(([column]) => columns.includes(column)));
      }),
    );
  const taskIndexes = ['tasks_due_idx', 'tasks_key_created_idx', 'tasks_key_idempotency_idx', 'tasks_key_status_idx', 'tasks_kling_task_idx'];

  it('keeps every task, the rows that point at them, their indexes and foreign keys on SQLite, and refuses an unknown status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-migration-'));
    try {
      const file = join(dir, 'gateway.db');
      const old = new Database(file);
      migrate(drizzle(old), { migrationsFolder: migrationsBefore(dir, 'sqlite', '0005_task_status_enum') });
      for (const statement of seed) old.exec(statement);
      const rowsOf = (db: Database.Database) => tables.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all());
      const before = rowsOf(old);
      old.close();

      const migrated = openSqlite(file);
      try {
        const { sqlite } = migrated;
        // Later migrations add columns; every column that was there keeps its value.
        expect(sameColumnsAs(rowsOf(sqlite), before)).toEqual(before);
        const indexes = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL ORDER BY name");
        expect(indexes.pluck().all()).toEqual(taskIndexes);
        const references = (table: string) =>
          (sqlite.pragma(`foreign_key_list(${table})`) as { table: string; from: string }[]).map((fk) => `${fk.from} -> ${fk.table}`).sort();
        expect(references('tasks')).toEqual(['api_key_id -> api_keys']);
        expect(references('credit_ledger')).toEqual(['api_key_id -> api_keys', 'task_id -> tasks']);
        expect(references('webhook_deliveries')).toEqual(['api_key_id -> api_keys', 'task_id -> tasks']);
        expect(sqlite.pragma('foreign_key_check')).toEqual([]);
        expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
        expect(() => sqlite.exec("DELETE FROM tasks WHERE id = 't_succeeded'")).toThrow(/FOREIGN KEY/);
        expect(() => sqlite.exec("UPDATE tasks SET status = 'LOST' WHERE id = 't_queued'")).toThrow(/CHECK constraint failed/);
        expect(await createStore(migrated.dialect).getTask('t_processing')).toMatchObject({ status: 'PROCESSING', holdsSlot: true });
        // 0006 marks tasks already handed to Kling: they are looked up before any refund.
        expect((await createStore(migrated.dialect).getTask('t_processing'))?.submitSentAt).not.toBeNull();
        expect(await createStore(migrated.dialect).getTask('t_queued')).toMatchObject({ submitSentAt: null, notFoundCount: 0 });
      } finally {
        migrated.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!postgresAvailable('the task-status migration on PostgreSQL'))(
    'keeps every task and the rows that point at them on PostgreSQL, and types the column as task_status',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kg-migration-'));
      const url = await freshPostgresDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await migratePg(drizzlePg(client), { migrationsFolder: migrationsBefore(dir, 'postgres', '0003_task_status_enum') });
        for (const statement of seed) await client.query(statement);
        const rows = async () => {
          const all = [];
          for (const table of tables) all.push((await client.query<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY 1`)).rows);
          return all;
        };
        const indexes = async () =>
          (await client.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' ORDER BY 1")).rows.map((r) => r.indexname);
        const before = await rows();
        expect(await indexes()).toEqual(expect.arrayContaining(taskIndexes));
        const indexesBefore = await indexes();

        const migrated = await openPostgres(url, 2);
        try {
          expect(sameColumnsAs(await rows(), before)).toEqual(before);
          expect(await indexes()).toEqual(indexesBefore);
          const column = await client.query("SELECT udt_name FROM information_schema.columns WHERE table_name = 'tasks' AND column_name = 'status'");
          expect(column.rows).toEqual([{ udt_name: 'task_status' }]);
          await expect(client.query("UPDATE tasks SET status = 'LOST' WHERE id = 't_queued'")).rejects.toThrow(/invalid input value for enum task_status/);
          expect(await createStore(migrated.dialect).getTask('t_processing')).toMatchObject({ status: 'PROCESSING', holdsSlot: true });
        } finally {
          await migrated.close();
        }
      } finally {
        await client.end();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
