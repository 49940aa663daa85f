ALTER TABLE `requests` ADD `self_approved` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Requests approved before the column existed are marked from their approvals.
UPDATE `requests` SET `self_approved` = 1
WHERE EXISTS (SELECT 1 FROM `approvals` p WHERE p.`request_id` = `requests`.`id` AND p.`approver` = `requests`.`requester` AND p.`decision` = 'approve');--> statement-breakpoint
CREATE INDEX `requests_self_approved` ON `requests` (`decided_at`,`id`) WHERE self_approved;--> statement-breakpoint
ALTER TABLE `grants` ADD `activated_at` integer;--> statement-breakpoint
-- Grants activated before the column existed (only activation sets starts_at) get it from their event.
UPDATE `grants` SET
	`activated_at` = (SELECT min(e.`at`) FROM `audit_events` e WHERE e.`grant_id` = `grants`.`id` AND e.`action` = 'grant.activated')
WHERE `starts_at` IS NOT NULL;--> statement-breakpoint
CREATE INDEX `grants_activated` ON `grants` (`activated_at`,`starts_at`,`expires_at`,`ended_at`,`id`) WHERE activated_at is not null;
