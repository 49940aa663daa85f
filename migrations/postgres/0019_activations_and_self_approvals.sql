ALTER TABLE "requests" ADD COLUMN "self_approved" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "activated_at" bigint;--> statement-breakpoint
-- Requests approved before the column existed are marked from their approvals.
UPDATE "requests" r SET "self_approved" = true
WHERE EXISTS (SELECT 1 FROM "approvals" p WHERE p."request_id" = r."id" AND p."approver" = r."requester" AND p."decision" = 'approve');--> statement-breakpoint
-- Grants activated before the column existed (only activation sets starts_at) get it from their event.
UPDATE "grants" g SET
	"activated_at" = (SELECT min(e."at") FROM "audit_events" e WHERE e."grant_id" = g."id" AND e."action" = 'grant.activated')
WHERE g."starts_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "requests_self_approved" ON "requests" USING btree ("decided_at","id") WHERE self_approved;--> statement-breakpoint
CREATE INDEX "grants_activated" ON "grants" USING btree ("activated_at","starts_at","expires_at","ended_at","id") WHERE activated_at is not null;
