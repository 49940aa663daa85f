CREATE TABLE `digests` (
	`period_key` text PRIMARY KEY NOT NULL,
	`period_start` integer NOT NULL,
	`period_end` integer NOT NULL,
	`channel` text NOT NULL,
	`queued_at` integer NOT NULL,
	`posted_at` integer,
	`chain_seq` integer,
	`chain_hash` text
);
