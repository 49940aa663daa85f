DROP INDEX "grants_due";--> statement-breakpoint
CREATE INDEX "grants_due" ON "grants" USING btree ("next_attempt_at","id") WHERE status in ('activating', 'active', 'revoking');