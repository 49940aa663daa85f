DROP INDEX `audit_grant`;--> statement-breakpoint
CREATE INDEX `audit_action_at` ON `audit_events` (`action`,`at`,`actor`);--> statement-breakpoint
CREATE INDEX `audit_grant` ON `audit_events` (`grant_id`,`action`,`at`);--> statement-breakpoint
CREATE INDEX `requests_pending_created` ON `requests` (`created_at`) WHERE status = 'pending';