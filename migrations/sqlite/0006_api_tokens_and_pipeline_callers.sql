CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`identity` text NOT NULL,
	`resources` text NOT NULL,
	`hash` text NOT NULL,
	`note` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`revoked_by` text
);
--> statement-breakpoint
CREATE INDEX `api_tokens_identity` ON `api_tokens` (`identity`);--> statement-breakpoint
CREATE TABLE `pipeline_credentials` (
	`grant_id` text PRIMARY KEY NOT NULL,
	`sealed` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`grant_id`) REFERENCES `grants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `requests` ADD `caller` text;