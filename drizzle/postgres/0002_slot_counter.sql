ALTER TABLE "api_keys" ADD COLUMN "slots_in_use" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "holds_slot" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Tasks at Kling, and queued tasks whose submit may be in flight, keep the slots they had.
UPDATE "tasks" SET "holds_slot" = true WHERE "status" IN ('SUBMITTED', 'PROCESSING') OR ("status" = 'QUEUED' AND "submitting_until" IS NOT NULL);--> statement-breakpoint
UPDATE "api_keys" SET "slots_in_use" = (SELECT count(*) FROM "tasks" WHERE "tasks"."api_key_id" = "api_keys"."id" AND "tasks"."holds_slot");
