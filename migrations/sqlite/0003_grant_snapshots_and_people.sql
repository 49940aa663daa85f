CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `people` (
	`user_id` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`changed_at` integer NOT NULL,
	`checked_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `max_duration_ms` integer;--> statement-breakpoint
CREATE INDEX `requests_requester_created` ON `requests` (`requester`,`created_at`);--> statement-breakpoint
ALTER TABLE `grants` ADD `snapshot` text;--> statement-breakpoint
ALTER TABLE `grants` ADD `fence_until` integer;--> statement-breakpoint
ALTER TABLE `grants` ADD `recheck_at` integer;--> statement-breakpoint
ALTER TABLE `grants` ADD `rechecks` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `grants` ADD `verified_at` integer;--> statement-breakpoint
CREATE INDEX `grants_recheck` ON `grants` (`recheck_at`) WHERE recheck_at is not null;--> statement-breakpoint
CREATE INDEX `grants_active_verified` ON `grants` (`verified_at`) WHERE status = 'active';