DROP INDEX "audit_grant";--> statement-breakpoint
CREATE INDEX "requests_pending_created" ON "requests" USING btree ("created_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "audit_action_at" ON "audit_events" USING btree ("action","at","actor");--> statement-breakpoint
CREATE INDEX "audit_grant" ON "audit_events" USING btree ("grant_id","action","at");