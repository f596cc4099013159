// Tables of the embedded (SQLite) store. Times are Unix milliseconds; credits are whole numbers.
import { sql } from 'drizzle-orm';
import { check, index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { TASK_STATUSES } from './task-status.js';

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** SHA-256 of the key; the key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull(),
    /** The first characters of the key, so an operator can tell keys apart in `keys list`. */
    keyPrefix: text('key_prefix').notNull(),
    /** What can still be held. Changed only together with a credit_ledger row. */
    creditBalance: integer('credit_balance').notNull().default(0),
    creditsHeld: integer('credits_held').notNull().default(0),
    creditsUsed: integer('credits_used').notNull().default(0),
    /**
     * How many of this key's tasks hold a slot at Kling (tasks.holds_slot). Kept beside the tasks so a
     * submit reads one number under the key's lock instead of counting the key's open tasks.
     */
    slotsInUse: integer('slots_in_use').notNull().default(0),
    /** Standard Webhooks secret (`whsec_…`) that signs this key's outgoing webhooks. */
    webhookSecret: text('webhook_secret').notNull(),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_key_hash_idx').on(t.keyHash)],
);

export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    /** One of TASK_STATUSES; the CHECK below makes the database refuse anything else. */
    status: text('status', { enum: TASK_STATUSES }).notNull(),
    prompt: text('prompt').notNull(),
    negativePrompt: text('negative_prompt'),
    model: text('model').notNull(),
    mode: text('mode').notNull(),
    aspectRatio: text('aspect_ratio').notNull(),
    durationSeconds: integer('duration_seconds').notNull(),
    cfgScale: real('cfg_scale'),
    /** JSON of { type, config } or null. */
    cameraControl: text('camera_control'),
    generateAudio: integer('generate_audio', { mode: 'boolean' }).notNull(),
    webhookUrl: text('webhook_url'),
    idempotencyKey: text('idempotency_key'),
    /** Hash of the normalised input: the same idempotencyKey with another input is a conflict. */
    inputFingerprint: text('input_fingerprint').notNull(),
    /** The price held for this task. */
    credits: integer('credits').notNull(),
    creditsCharged: integer('credits_charged').notNull().default(0),
    klingTaskId: text('kling_task_id'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    failureRetryable: integer('failure_retryable', { mode: 'boolean' }),
    /** JSON array of { id, url, durationSeconds }. */
    videos: text('videos').notNull().default('[]'),
    /** Secret part of the per-task callback URL handed to Kling. */
    callbackToken: text('callback_token').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    submittedAt: integer('submitted_at'),
    completedAt: integer('completed_at'),
    /** After this the sweeper times the task out and refunds it. */
    deadlineAt: integer('deadline_at').notNull(),
    /** When the poller (or, for QUEUED tasks, the dispatcher) should look at the task next; null once terminal. */
    nextCheckAt: integer('next_check_at'),
    checkAttempts: integer('check_attempts').notNull().default(0),
    /** The gateway instance that polls this task; others leave it alone until the lease expires. */
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /** Until when the submit that took the task's slot may be in flight (diagnostics; leases decide takeover). */
    submittingUntil: integer('submitting_until'),
    /**
     * The task counts against its key's slots at Kling (api_keys.slots_in_use): from the slot's
     * reservation for a submit until the task ends, or goes back to waiting after a failed submit.
     */
    holdsSlot: integer('holds_slot', { mode: 'boolean' }).notNull().default(false),
    /**
     * Since when a create for the task may have reached Kling (set with the slot reservation, never
     * cleared). With no kling_task_id it means: look the task up before refunding or resending it.
     */
    submitSentAt: integer('submit_sent_at'),
    /** A cancel asked for while the task's submit may have reached Kling; settled once Kling's answer is known. */
    cancelRequestedAt: integer('cancel_requested_at'),
    /** Kling's last account-level refusal of this task's submit; at the deadline it ends UPSTREAM_UNAVAILABLE. */
    upstreamRefusal: text('upstream_refusal'),
    /** Kling's "not found" answers in a row for this task, and when the first came (tasks/absence.ts). */
    notFoundCount: integer('not_found_count').notNull().default(0),
    firstNotFoundAt: integer('first_not_found_at'),
    /**
     * W3C traceparent of the operation that created the task, when traced: the job outlives the request,
     * so its later spans (submit, polls, the end, the webhook) are started as children of this.
     */
    traceparent: text('traceparent'),
    /** Bumped on every change, so subscribers can drop stale or repeated events. */
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
    // SQLite has no enum type; the list is written into the table's definition (a new status needs a migration).
    check('tasks_status_check', sql.raw(`"status" IN (${TASK_STATUSES.map((status) => `'${status}'`).join(', ')})`)),
  ],
);

/** One row per grant, hold, charge and refund, so every balance can be recomputed and audited. */
export const creditLedger = sqliteTable(
  'credit_ledger',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    apiKeyId: text('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    taskId: text('task_id').references(() => tasks.id),
    kind: text('kind', { enum: ['grant', 'hold', 'charge', 'refund'] }).notNull(),
    amount: integer('amount').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    // The database itself refuses a second hold, charge or refund for one task.
    uniqueIndex('credit_ledger_task_kind_idx')
      .on(t.taskId, t.kind)
      .where(sql`${t.taskId} IS NOT NULL`),
    index('credit_ledger_key_idx').on(t.apiKeyId, t.createdAt),
  ],
);

/**
 * The webhook outbox: one row per terminal state of a task that asked for a webhook, written in the
 * same transaction as that state, then sent (and retried) by the webhook sender.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    /** Random; sent as `webhook-id`, the same on every retry, so receivers can drop repeats. */
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
    /** The exact body bytes that are sent and signed. */
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** When the sender should try next (or, while one holds it, when its lease ends); null once settled. */
    nextAttemptAt: integer('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
    /** The task's traceparent, copied when the delivery is written, so its attempts join the task's trace. */
    traceparent: text('traceparent'),
  },
  (t) => [
    // The database itself refuses a second notification of one terminal state.
    uniqueIndex('webhook_deliveries_task_event_idx').on(t.taskId, t.event),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} IS NOT NULL`),
  ],
);

/** One row per HTTP attempt of a delivery, for support questions ("did you call us at 10:02?"). */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id),
    /** 1-based. */
    attempt: integer('attempt').notNull(),
    /** Null when no response arrived (connection refused, timeout). */
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    attemptedAt: integer('attempted_at').notNull(),
  },
  (t) => [uniqueIndex('webhook_attempts_delivery_attempt_idx').on(t.deliveryId, t.attempt)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type TaskRow = typeof tasks.$inferSelect;
export type NewTaskRow = typeof tasks.$inferInsert;
export type LedgerRow = typeof creditLedger.$inferSelect;
export type LedgerKind = LedgerRow['kind'];
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type NewWebhookDeliveryRow = typeof webhookDeliveries.$inferInsert;
export type WebhookEvent = WebhookDeliveryRow['event'];
export type WebhookDeliveryStatus = WebhookDeliveryRow['status'];
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
