-- Rebuilds tasks with the CHECK on status. openSqlite runs migrations with foreign keys off (the PRAGMAs
-- below are no-ops inside the migration's transaction), so the DROP keeps the rows that point at tasks.
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`api_key_id` text NOT NULL,
	`status` text NOT NULL,
	`prompt` text NOT NULL,
	`negative_prompt` text,
	`model` text NOT NULL,
	`mode` text NOT NULL,
	`aspect_ratio` text NOT NULL,
	`duration_seconds` integer NOT NULL,
	`cfg_scale` real,
	`camera_control` text,
	`generate_audio` integer NOT NULL,
	`webhook_url` text,
	`idempotency_key` text,
	`input_fingerprint` text NOT NULL,
	`credits` integer NOT NULL,
	`credits_charged` integer DEFAULT 0 NOT NULL,
	`kling_task_id` text,
	`failure_code` text,
	`failure_message` text,
	`failure_retryable` integer,
	`videos` text DEFAULT '[]' NOT NULL,
	`callback_token` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`submitted_at` integer,
	`completed_at` integer,
	`deadline_at` integer NOT NULL,
	`next_check_at` integer,
	`check_attempts` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`submitting_until` integer,
	`holds_slot` integer DEFAULT false NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`api_key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "tasks_status_check" CHECK("status" IN ('QUEUED', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'))
);
--> statement-breakpoint
INSERT INTO `__new_tasks`("id", "api_key_id", "status", "prompt", "negative_prompt", "model", "mode", "aspect_ratio", "duration_seconds", "cfg_scale", "camera_control", "generate_audio", "webhook_url", "idempotency_key", "input_fingerprint", "credits", "credits_charged", "kling_task_id", "failure_code", "failure_message", "failure_retryable", "videos", "callback_token", "created_at", "updated_at", "submitted_at", "completed_at", "deadline_at", "next_check_at", "check_attempts", "lease_owner", "lease_expires_at", "submitting_until", "holds_slot", "version") SELECT "id", "api_key_id", "status", "prompt", "negative_prompt", "model", "mode", "aspect_ratio", "duration_seconds", "cfg_scale", "camera_control", "generate_audio", "webhook_url", "idempotency_key", "input_fingerprint", "credits", "credits_charged", "kling_task_id", "failure_code", "failure_message", "failure_retryable", "videos", "callback_token", "created_at", "updated_at", "submitted_at", "completed_at", "deadline_at", "next_check_at", "check_attempts", "lease_owner", "lease_expires_at", "submitting_until", "holds_slot", "version" FROM `tasks`;--> statement-breakpoint
DROP TABLE `tasks`;--> statement-breakpoint
ALTER TABLE `__new_tasks` RENAME TO `tasks`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_key_idempotency_idx` ON `tasks` (`api_key_id`,`idempotency_key`) WHERE "tasks"."idempotency_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_key_created_idx` ON `tasks` (`api_key_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_due_idx` ON `tasks` (`next_check_at`) WHERE "tasks"."next_check_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_key_status_idx` ON `tasks` (`api_key_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_kling_task_idx` ON `tasks` (`kling_task_id`);