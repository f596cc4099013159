ALTER TABLE "tasks" ADD COLUMN "submit_sent_at" bigint;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "cancel_requested_at" bigint;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "upstream_refusal" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "not_found_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "first_not_found_at" bigint;--> statement-breakpoint
-- Open tasks that were already handed to Kling (or whose submit was under way) may be there: look before refunding.
UPDATE "tasks" SET "submit_sent_at" = coalesce("submitted_at", "updated_at") WHERE "submitted_at" IS NOT NULL OR "holds_slot" OR "submitting_until" IS NOT NULL OR "kling_task_id" IS NOT NULL;
