CREATE TABLE `approvals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`approver` text NOT NULL,
	`decision` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `approvals_request_approver` ON `approvals` (`request_id`,`approver`);--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`grant_id` text,
	`requester` text NOT NULL,
	`resource_id` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`justification` text NOT NULL,
	`ticket` text,
	`status` text NOT NULL,
	`approvals_required` integer NOT NULL,
	`auto_approved` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`pending_until` integer NOT NULL,
	`decided_at` integer,
	`decided_by` text,
	`decision_reason` text,
	`client_key` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `requests_client_key_unique` ON `requests` (`client_key`);--> statement-breakpoint
CREATE INDEX `requests_pending_until` ON `requests` (`pending_until`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `requests_requester` ON `requests` (`requester`,`status`);--> statement-breakpoint
CREATE INDEX `requests_created_at` ON `requests` (`created_at`);--> statement-breakpoint
CREATE TABLE `grants` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`user_id` text NOT NULL,
	`resource_id` text NOT NULL,
	`provider` text NOT NULL,
	`status` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`starts_at` integer,
	`expires_at` integer,
	`provider_expires_at` integer,
	`next_attempt_at` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`alerted_at` integer,
	`warned_at` integer,
	`provider_state` text,
	`end_reason` text,
	`ended_by` text,
	`end_note` text,
	`ended_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`request_id`) REFERENCES `requests`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `grants_due` ON `grants` (`next_attempt_at`) WHERE status in ('activating', 'active', 'revoking');--> statement-breakpoint
CREATE INDEX `grants_unwarned` ON `grants` (`expires_at`) WHERE status = 'active' and warned_at is null;--> statement-breakpoint
CREATE INDEX `grants_unsynced` ON `grants` (`id`) WHERE status = 'active' and provider_expires_at < expires_at;--> statement-breakpoint
CREATE INDEX `grants_user_resource` ON `grants` (`user_id`,`resource_id`,`status`);--> statement-breakpoint
CREATE INDEX `grants_request` ON `grants` (`request_id`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`request_id` text,
	`grant_id` text,
	`details` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_events` (`at`);--> statement-breakpoint
CREATE INDEX `audit_request` ON `audit_events` (`request_id`);--> statement-breakpoint
CREATE INDEX `audit_grant` ON `audit_events` (`grant_id`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`subject` text NOT NULL,
	`topic` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_key_unique` ON `outbox` (`key`);--> statement-breakpoint
CREATE INDEX `outbox_due` ON `outbox` (`next_attempt_at`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `outbox_subject_pending` ON `outbox` (`subject`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE TABLE `slack_messages` (
	`subject` text NOT NULL,
	`purpose` text NOT NULL,
	`channel` text NOT NULL,
	`ts` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`subject`, `purpose`)
);
