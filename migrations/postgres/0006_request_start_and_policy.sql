ALTER TABLE "requests" ADD COLUMN "start_at" bigint;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "policy" text;--> statement-breakpoint
CREATE INDEX "requests_resource_created" ON "requests" USING btree ("resource_id","created_at");