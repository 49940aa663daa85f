CREATE TABLE "approvals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"approver" text NOT NULL,
	"decision" text NOT NULL,
	"reason" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "requests" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"grant_id" text,
	"requester" text NOT NULL,
	"resource_id" text NOT NULL,
	"duration_ms" bigint NOT NULL,
	"justification" text NOT NULL,
	"ticket" text,
	"status" text NOT NULL,
	"approvals_required" integer NOT NULL,
	"auto_approved" boolean DEFAULT false NOT NULL,
	"created_at" bigint NOT NULL,
	"pending_until" bigint NOT NULL,
	"decided_at" bigint,
	"decided_by" text,
	"decision_reason" text,
	"client_key" text,
	CONSTRAINT "requests_client_key_unique" UNIQUE("client_key")
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"id" text PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"user_id" text NOT NULL,
	"resource_id" text NOT NULL,
	"provider" text NOT NULL,
	"status" text NOT NULL,
	"duration_ms" bigint NOT NULL,
	"starts_at" bigint,
	"expires_at" bigint,
	"provider_expires_at" bigint,
	"next_attempt_at" bigint,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"alerted_at" bigint,
	"warned_at" bigint,
	"provider_state" text,
	"end_reason" text,
	"ended_by" text,
	"end_note" text,
	"ended_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"request_id" text,
	"grant_id" text,
	"details" text NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"subject" text NOT NULL,
	"topic" text NOT NULL,
	"payload" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"sent_at" bigint,
	CONSTRAINT "outbox_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "slack_messages" (
	"subject" text NOT NULL,
	"purpose" text NOT NULL,
	"channel" text NOT NULL,
	"ts" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "slack_messages_subject_purpose_pk" PRIMARY KEY("subject","purpose")
);
--> statement-breakpoint
CREATE TABLE "digests" (
	"period_key" text PRIMARY KEY NOT NULL,
	"period_start" bigint NOT NULL,
	"period_end" bigint NOT NULL,
	"channel" text NOT NULL,
	"queued_at" bigint NOT NULL,
	"posted_at" bigint,
	"chain_seq" bigint,
	"chain_hash" text
);
--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "grants" ADD CONSTRAINT "grants_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "approvals_request_approver" ON "approvals" USING btree ("request_id","approver");--> statement-breakpoint
CREATE INDEX "requests_pending_until" ON "requests" USING btree ("pending_until") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "requests_requester" ON "requests" USING btree ("requester","status");--> statement-breakpoint
CREATE INDEX "requests_created_at" ON "requests" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "grants_due" ON "grants" USING btree ("next_attempt_at") WHERE status in ('activating', 'active', 'revoking');--> statement-breakpoint
CREATE INDEX "grants_unwarned" ON "grants" USING btree ("expires_at") WHERE status = 'active' and warned_at is null;--> statement-breakpoint
CREATE INDEX "grants_unsynced" ON "grants" USING btree ("id") WHERE status = 'active' and provider_expires_at < expires_at;--> statement-breakpoint
CREATE INDEX "grants_user_resource" ON "grants" USING btree ("user_id","resource_id","status");--> statement-breakpoint
CREATE INDEX "grants_request" ON "grants" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "audit_at" ON "audit_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_request" ON "audit_events" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "audit_grant" ON "audit_events" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "outbox_due" ON "outbox" USING btree ("next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "outbox_subject_pending" ON "outbox" USING btree ("subject","id") WHERE status = 'pending';