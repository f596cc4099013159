// The store's bookkeeping below the GraphQL surface: the per-key slot counter, the statements prepared
// per shape, and the migration that introduced the counter. On SQLite, and with TEST_SCALE_OUT=1 on a
// fresh PostgreSQL database as well.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, openSqlite, type OpenedDatabase } from '../../src/db/connection.js';
import type { NewTaskRow } from '../../src/db/schema.js';
import { createStore, type Store } from '../../src/db/store.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { SCALE_OUT } from '../helpers/start-gateway.js';
import { freshPostgresDatabase } from '../helpers/services.js';

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

  const slotsOf = async (keyId: string) => [(await store.getApiKey(keyId))?.slotsInUse, await store.tasksHoldingSlots(keyId)];

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
    expect(await store.reserveSubmitSlot(created.task, 1, NOW + 60_000)).toBe(true);
    expect(await store.reserveSubmitSlot(waiting.task, 1, NOW + 60_000)).toBe(false);
    expect(await slotsOf(keyId)).toEqual([1, 1]);

    const submitted = await store.transition(created.task.id, { from: ['QUEUED'], set: { status: 'SUBMITTED', klingTaskId: 'k1', submittedAt: NOW } }, NOW);
    expect(submitted).toMatchObject({ status: 'SUBMITTED', holdsSlot: true });
    const end = { from: ['SUBMITTED', 'PROCESSING'] as const, set: { status: 'SUCCEEDED', completedAt: NOW, nextCheckAt: null }, settle: 'charge' as const };
    const [first, second] = await Promise.all([store.transition(created.task.id, end, NOW), store.transition(created.task.id, end, NOW)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect(await slotsOf(keyId)).toEqual([0, 0]);

    // The freed slot goes to the waiting task; a failed submit puts it back to wait and frees the slot again.
    expect(await store.reserveSubmitSlot(waiting.task, 1, NOW + 60_000)).toBe(true);
    expect(await slotsOf(keyId)).toEqual([1, 1]);
    expect(await store.reschedule(waiting.task.id, 'QUEUED', NOW + 1_000, 1)).toBe(true);
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
      expect((await store.ledgerTotals(key.id)).grant).toBe(55 + 1_000);
    } finally {
      await opened.close();
    }
  });
});

describe('the slot-counter migration', () => {
  it('counts the slots that tasks at Kling and submits in flight already hold', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-migration-'));
    try {
      // The migrations as they were before the counter: the journal without its last entry.
      const before = join(dir, 'migrations');
      cpSync(join(PROJECT_ROOT, 'drizzle', 'sqlite'), before, { recursive: true });
      const journalFile = join(before, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
      const counterAt = journal.entries.findIndex((entry) => entry.tag === '0004_slot_counter');
      expect(counterAt).toBeGreaterThan(0);
      writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, counterAt) }));

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
