import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Append-only, hash-chained; triggers in the migrations refuse UPDATE and DELETE. */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    seq: integer('seq').primaryKey(),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    requestId: text('request_id'),
    grantId: text('grant_id'),
    details: text('details').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_at').on(t.at),
    index('audit_request').on(t.requestId),
    // A grant's events by action (the digest's "when was an early end asked for"), and by grant.
    index('audit_grant').on(t.grantId, t.action, t.at),
    // The digest's reads: one action's rows in a period, who acted (to rank) and what it was about
    // (to join): a dense week costs no lookup of its audit rows, only of the rows joined to them.
    index('audit_action_at').on(t.action, t.at, t.actor, t.grantId, t.requestId),
  ],
);
