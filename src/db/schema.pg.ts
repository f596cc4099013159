// The same tables for PostgreSQL (scale-out). Column names, meanings and JavaScript types match
// schema.ts one for one (checked at the bottom), so one store serves both dialects.
import { sql } from 'drizzle-orm';
import { bigint, boolean, doublePrecision, index, integer, pgEnum, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import type * as sqlite from './schema.js';
import { TASK_STATUSES } from './task-status.js';

/** Unix milliseconds exceed 32 bits; `mode: 'number'` keeps them plain numbers (safe until year 287,396). */
const ms = (name: string) => bigint(name, { mode: 'number' });

export const taskStatus = pgEnum('task_status', TASK_STATUSES);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    keyPrefix: text('key_prefix').notNull(),
    creditBalance: integer('credit_balance').notNull().default(0),
    creditsHeld: integer('credits_held').notNull().default(0),
    creditsUsed: integer('credits_used').notNull().default(0),
    slotsInUse: integer('slots_in_use').notNull().default(0),
    webhookSecret: text('webhook_secret').notNull(),
    createdAt: ms('created_at').notNull(),
    revokedAt: ms('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_key_hash_idx').on(t.keyHash)],
);

export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    status: taskStatus('status').notNull(),
    prompt: text('prompt').notNull(),
    negativePrompt: text('negative_prompt'),
    model: text('model').notNull(),
    mode: text('mode').notNull(),
    aspectRatio: text('aspect_ratio').notNull(),
    durationSeconds: integer('duration_seconds').notNull(),
    cfgScale: doublePrecision('cfg_scale'),
    cameraControl: text('camera_control'),
    generateAudio: boolean('generate_audio').notNull(),
    webhookUrl: text('webhook_url'),
    idempotencyKey: text('idempotency_key'),
    inputFingerprint: text('input_fingerprint').notNull(),
    credits: integer('credits').notNull(),
    creditsCharged: integer('credits_charged').notNull().default(0),
    klingTaskId: text('kling_task_id'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    failureRetryable: boolean('failure_retryable'),
    videos: text('videos').notNull().default('[]'),
    callbackToken: text('callback_token').notNull(),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    submittedAt: ms('submitted_at'),
    completedAt: ms('completed_at'),
    deadlineAt: ms('deadline_at').notNull(),
    nextCheckAt: ms('next_check_at'),
    checkAttempts: integer('check_attempts').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: ms('lease_expires_at'),
    submittingUntil: ms('submitting_until'),
    holdsSlot: boolean('holds_slot').notNull().default(false),
    submitSentAt: ms('submit_sent_at'),
    cancelRequestedAt: ms('cancel_requested_at'),
    upstreamRefusal: text('upstream_refusal'),
    notFoundCount: integer('not_found_count').notNull().default(0),
    firstNotFoundAt: ms('first_not_found_at'),
    traceparent: text('traceparent'),
    version: integer('version').notNull().default(1),
  },
  (t) => [
    uniqueIndex('tasks_key_idempotency_idx')
      .on(t.apiKeyId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} IS NOT NULL`),
    index('tasks_key_created_idx').on(t.apiKeyId, t.createdAt, t.id),
    index('tasks_due_idx').on(t.nextCheckAt).where(sql`${t.nextCheckAt} IS NOT NULL`),
    index('tasks_key_status_idx').on(t.apiKeyId, t.status),
    index('tasks_kling_task_idx').on(t.klingTaskId),
  ],
);

export const creditLedger = pgTable(
  'credit_ledger',
  {
    id: serial('id').primaryKey(),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    taskId: text('task_id').references(() => tasks.id),
    kind: text('kind', { enum: ['grant', 'hold', 'charge', 'refund'] }).notNull(),
    amount: integer('amount').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('credit_ledger_task_kind_idx')
      .on(t.taskId, t.kind)
      .where(sql`${t.taskId} IS NOT NULL`),
    index('credit_ledger_key_idx').on(t.apiKeyId, t.createdAt),
  ],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    url: text('url').notNull(),
    event: text('event', {
      enum: ['video_task.succeeded', 'video_task.failed', 'video_task.canceled', 'video_task.timed_out'],
    }).notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: ms('created_at').notNull(),
    deliveredAt: ms('delivered_at'),
    traceparent: text('traceparent'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_task_event_idx').on(t.taskId, t.event),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} IS NOT NULL`),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: serial('id').primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    attemptedAt: ms('attempted_at').notNull(),
  },
  (t) => [uniqueIndex('webhook_attempts_delivery_attempt_idx').on(t.deliveryId, t.attempt)],
);

// Compile-time proof that both dialects hand the store the same row shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const ROWS_MATCH: [
  Same<typeof apiKeys.$inferSelect, typeof sqlite.apiKeys.$inferSelect>,
  Same<typeof tasks.$inferSelect, typeof sqlite.tasks.$inferSelect>,
  Same<typeof tasks.$inferInsert, typeof sqlite.tasks.$inferInsert>,
  Same<typeof creditLedger.$inferSelect, typeof sqlite.creditLedger.$inferSelect>,
  Same<typeof webhookDeliveries.$inferSelect, typeof sqlite.webhookDeliveries.$inferSelect>,
  Same<typeof webhookAttempts.$inferSelect, typeof sqlite.webhookAttempts.$inferSelect>,
] = [true, true, true, true, true, true];
