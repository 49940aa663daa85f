CREATE TABLE "home_viewers" (
	"user_id" text PRIMARY KEY NOT NULL,
	"first_opened_at" bigint NOT NULL
);
