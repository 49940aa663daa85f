CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"identity" text NOT NULL,
	"resources" text NOT NULL,
	"hash" text NOT NULL,
	"note" text,
	"created_at" bigint NOT NULL,
	"created_by" text NOT NULL,
	"expires_at" bigint,
	"revoked_at" bigint,
	"revoked_by" text
);
--> statement-breakpoint
CREATE TABLE "pipeline_credentials" (
	"grant_id" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "caller" text;--> statement-breakpoint
ALTER TABLE "pipeline_credentials" ADD CONSTRAINT "pipeline_credentials_grant_id_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_identity" ON "api_tokens" USING btree ("identity");