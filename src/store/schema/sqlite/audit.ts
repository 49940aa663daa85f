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
    // A grant's events by action (the digest's latest revokes that reported activity), and by
    // grant.
    index('audit_grant').on(t.grantId, t.action, t.at),
    // The digest's reads: one action's rows in a period and who acted (to rank the approvers),
    // without a lookup of the rows. It joins no audit row to its grant or request (it reads their
    // own columns), so the index holds no ids: fewer pages to read a dense week, less to write.
    index('audit_action_at').on(t.action, t.at, t.actor),
  ],
);
