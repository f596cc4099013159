ALTER TABLE `tasks` ADD `submit_sent_at` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `cancel_requested_at` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `upstream_refusal` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `not_found_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `first_not_found_at` integer;--> statement-breakpoint
-- Open tasks that were already handed to Kling (or whose submit was under way) may be there: look before refunding.
UPDATE `tasks` SET `submit_sent_at` = coalesce(`submitted_at`, `updated_at`) WHERE `submitted_at` IS NOT NULL OR `holds_slot` = 1 OR `submitting_until` IS NOT NULL OR `kling_task_id` IS NOT NULL;
