ALTER TABLE `requests` ADD `start_at` integer;--> statement-breakpoint
ALTER TABLE `requests` ADD `policy` text;--> statement-breakpoint
CREATE INDEX `requests_resource_created` ON `requests` (`resource_id`,`created_at`);