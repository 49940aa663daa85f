ALTER TABLE "grants" ADD COLUMN "end_asked_at" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "end_recorded_at" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "activity_reported" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Grants that began to end before these columns existed get them from their audit events.
UPDATE "grants" g SET
	"end_asked_at" = (SELECT max(e."at") FROM "audit_events" e WHERE e."grant_id" = g."id" AND e."action" IN ('grant.revoke_requested', 'grant.failed')),
	"end_recorded_at" = (SELECT max(e."at") FROM "audit_events" e WHERE e."grant_id" = g."id" AND e."action" = 'grant.revoked'),
	"activity_reported" = coalesce((SELECT bool_or((e."details"::jsonb ->> 'activity') IS NOT NULL) FROM "audit_events" e WHERE e."grant_id" = g."id" AND e."action" = 'grant.revoked'), false)
WHERE g."status" IN ('revoking', 'revoked', 'failed', 'stranded');--> statement-breakpoint
CREATE INDEX "grants_end_recorded" ON "grants" USING btree ("end_recorded_at","end_reason","activity_reported","attempts","expires_at","end_asked_at","id") WHERE end_recorded_at is not null;
