ALTER TABLE `grants` ADD `end_asked_at` integer;--> statement-breakpoint
ALTER TABLE `grants` ADD `end_recorded_at` integer;--> statement-breakpoint
ALTER TABLE `grants` ADD `activity_reported` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Grants that began to end before these columns existed get them from their audit events.
UPDATE `grants` SET
	`end_asked_at` = (SELECT max(e.`at`) FROM `audit_events` e WHERE e.`grant_id` = `grants`.`id` AND e.`action` IN ('grant.revoke_requested', 'grant.failed')),
	`end_recorded_at` = (SELECT max(e.`at`) FROM `audit_events` e WHERE e.`grant_id` = `grants`.`id` AND e.`action` = 'grant.revoked'),
	`activity_reported` = coalesce((SELECT max(json_extract(e.`details`, '$.activity') IS NOT NULL) FROM `audit_events` e WHERE e.`grant_id` = `grants`.`id` AND e.`action` = 'grant.revoked'), 0)
WHERE `status` IN ('revoking', 'revoked', 'failed', 'stranded');--> statement-breakpoint
CREATE INDEX `grants_end_recorded` ON `grants` (`end_recorded_at`,`end_reason`,`activity_reported`,`attempts`,`expires_at`,`end_asked_at`,`id`) WHERE end_recorded_at is not null;
