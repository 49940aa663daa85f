DROP INDEX "requests_requester";--> statement-breakpoint
CREATE INDEX "requests_requester" ON "requests" USING btree ("requester","status","created_at");