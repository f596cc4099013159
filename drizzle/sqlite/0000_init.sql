CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`key_prefix` text NOT NULL,
	`credit_balance` integer DEFAULT 0 NOT NULL,
	`credits_held` integer DEFAULT 0 NOT NULL,
	`credits_used` integer DEFAULT 0 NOT NULL,
	`webhook_secret` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_idx` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `credit_ledger` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`api_key_id` text NOT NULL,
	`task_id` text,
	`kind` text NOT NULL,
	`amount` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`api_key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`task_id`) REFERENCES `tasks`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_ledger_task_kind_idx` ON `credit_ledger` (`task_id`,`kind`) WHERE "credit_ledger"."task_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_ledger_key_idx` ON `credit_ledger` (`api_key_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `tasks` (
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
	`version` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`api_key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_key_idempotency_idx` ON `tasks` (`api_key_id`,`idempotency_key`) WHERE "tasks"."idempotency_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_key_created_idx` ON `tasks` (`api_key_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_due_idx` ON `tasks` (`next_check_at`) WHERE "tasks"."next_check_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_key_status_idx` ON `tasks` (`api_key_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_kling_task_idx` ON `tasks` (`kling_task_id`);