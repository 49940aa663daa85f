CREATE TABLE `audit_checkpoint` (
	`name` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`hash` text NOT NULL,
	`verified_at` integer NOT NULL,
	`broken_seq` integer,
	`broken_problem` text,
	`seal` text NOT NULL
);
