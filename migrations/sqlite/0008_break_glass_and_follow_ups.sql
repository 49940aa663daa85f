CREATE TABLE `break_glass_uses` (
	`request_id` text PRIMARY KEY NOT NULL,
	`grant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`used_at` integer NOT NULL,
	`review_due_at` integer NOT NULL,
	`reviewed_at` integer,
	`reviewed_by` text,
	`verdict` text,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `break_glass_uses_used_at` ON `break_glass_uses` (`used_at`);--> statement-breakpoint
CREATE INDEX `break_glass_uses_review_due` ON `break_glass_uses` (`review_due_at`) WHERE reviewed_at is null;--> statement-breakpoint
CREATE TABLE `follow_ups` (
	`request_id` text NOT NULL,
	`step` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`request_id`, `step`)
);
