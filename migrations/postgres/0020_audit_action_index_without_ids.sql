DROP INDEX "audit_action_at";--> statement-breakpoint
CREATE INDEX "audit_action_at" ON "audit_events" USING btree ("action","at","actor");