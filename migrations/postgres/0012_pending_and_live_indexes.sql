DROP INDEX "requests_pending_created";--> statement-breakpoint
CREATE INDEX "requests_pending_resource" ON "requests" USING btree ("resource_id","created_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "grants_user_live" ON "grants" USING btree ("user_id","expires_at","id") WHERE status in ('activating', 'active', 'revoking');