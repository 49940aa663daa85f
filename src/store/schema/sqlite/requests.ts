import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { DECISIONS, REQUEST_KINDS, REQUEST_STATUSES } from '../enums';

/** A person's ask for access (or for more time on a grant they hold). */
export const requests = sqliteTable(
  'requests',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: REQUEST_KINDS }).notNull(),
    grantId: text('grant_id'),
    requester: text('requester').notNull(),
    resourceId: text('resource_id').notNull(),
    durationMs: integer('duration_ms').notNull(),
    justification: text('justification').notNull(),
    ticket: text('ticket'),
    status: text('status', { enum: REQUEST_STATUSES }).notNull(),
    approvalsRequired: integer('approvals_required').notNull(),
    autoApproved: integer('auto_approved', { mode: 'boolean' }).notNull().default(false),
    /** The requester approved it themselves (a resource that allows it): the digest lists these. */
    selfApproved: integer('self_approved', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull(),
    pendingUntil: integer('pending_until').notNull(),
    decidedAt: integer('decided_at'),
    decidedBy: text('decided_by'),
    decisionReason: text('decision_reason'),
    clientKey: text('client_key').unique(),
    /** The longest duration the resource allowed when the request was filed. */
    maxDurationMs: integer('max_duration_ms'),
    /** For a pipeline's request: how it authenticated (JSON), so policy can be asked again at decision time. */
    caller: text('caller'),
    /** When the access is to start, for a request that asked for a later start (`from 14:00`). */
    startAt: integer('start_at'),
    /** The resource's rules when the request was filed (src/core/rules.ts), for `policy explain --as-of`. */
    policy: text('policy'),
  },
  (t) => [
    index('requests_pending_until')
      .on(t.pendingUntil)
      .where(sql`status = 'pending'`),
    // An approver's Home and the follow-up job list the oldest pending requests of some
    // resources: read from the pending ones only. On (resource_id, created_at) alone the planner
    // walked every request of the resource ever filed, 9 ms at 100,000 decided ones.
    index('requests_pending_resource')
      .on(t.resourceId, t.createdAt)
      .where(sql`status = 'pending'`),
    // A requester's Home lists their newest pending requests: read in order, not sorted each time.
    index('requests_requester').on(t.requester, t.status, t.createdAt),
    index('requests_requester_created').on(t.requester, t.createdAt),
    index('requests_created_at').on(t.createdAt),
    index('requests_resource_created').on(t.resourceId, t.createdAt),
    // The digest's decisions of a week, how long each took and which no person made, from the
    // columns this index holds; the few it lists join their grants.
    index('requests_decided')
      .on(t.decidedAt, t.status, t.autoApproved, t.createdAt, t.id)
      .where(sql`decided_at is not null`),
    // The digest's self-approved requests of a week: few, so found without reading the others.
    index('requests_self_approved')
      .on(t.decidedAt, t.id)
      .where(sql`self_approved`),
  ],
);

/** One row per approver decision; the unique index makes a repeated click a no-op. */
export const approvals = sqliteTable(
  'approvals',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    requestId: text('request_id')
      .notNull()
      .references(() => requests.id),
    approver: text('approver').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    reason: text('reason'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('approvals_request_approver').on(t.requestId, t.approver)],
);
