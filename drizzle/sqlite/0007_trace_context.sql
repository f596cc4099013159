ALTER TABLE `tasks` ADD `traceparent` text;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `traceparent` text;