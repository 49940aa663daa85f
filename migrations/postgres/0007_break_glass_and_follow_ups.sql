CREATE TABLE "break_glass_uses" (
	"request_id" text PRIMARY KEY NOT NULL,
	"grant_id" text NOT NULL,
	"user_id" text NOT NULL,
	"resource_id" text NOT NULL,
	"used_at" bigint NOT NULL,
	"review_due_at" bigint NOT NULL,
	"reviewed_at" bigint,
	"reviewed_by" text,
	"verdict" text,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "follow_ups" (
	"request_id" text NOT NULL,
	"step" text NOT NULL,
	"at" bigint NOT NULL,
	CONSTRAINT "follow_ups_request_id_step_pk" PRIMARY KEY("request_id","step")
);
--> statement-breakpoint
CREATE INDEX "break_glass_uses_used_at" ON "break_glass_uses" USING btree ("used_at");--> statement-breakpoint
CREATE INDEX "break_glass_uses_review_due" ON "break_glass_uses" USING btree ("review_due_at") WHERE reviewed_at is null;