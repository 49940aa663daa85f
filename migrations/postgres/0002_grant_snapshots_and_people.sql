CREATE TABLE "meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "people" (
	"user_id" text PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"changed_at" bigint NOT NULL,
	"checked_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "max_duration_ms" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "snapshot" text;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "fence_until" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "recheck_at" bigint;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "rechecks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "verified_at" bigint;--> statement-breakpoint
CREATE INDEX "requests_requester_created" ON "requests" USING btree ("requester","created_at");--> statement-breakpoint
CREATE INDEX "grants_recheck" ON "grants" USING btree ("recheck_at") WHERE recheck_at is not null;--> statement-breakpoint
CREATE INDEX "grants_active_verified" ON "grants" USING btree ("verified_at") WHERE status = 'active';