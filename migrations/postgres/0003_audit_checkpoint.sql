CREATE TABLE "audit_checkpoint" (
	"name" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL,
	"verified_at" bigint NOT NULL,
	"broken_seq" bigint,
	"broken_problem" text,
	"seal" text NOT NULL
);
