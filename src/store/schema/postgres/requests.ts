import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  pgTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { DECISIONS, REQUEST_KINDS, REQUEST_STATUSES } from '../enums';

/** Milliseconds since the epoch and durations in ms outgrow a 32-bit integer. */
const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `requests` table: same names, same columns. */
export const requests = pgTable(
  'requests',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: REQUEST_KINDS }).notNull(),
    grantId: text('grant_id'),
    requester: text('requester').notNull(),
    resourceId: text('resource_id').notNull(),
    durationMs: ms('duration_ms').notNull(),
    justification: text('justification').notNull(),
    ticket: text('ticket'),
    status: text('status', { enum: REQUEST_STATUSES }).notNull(),
    approvalsRequired: integer('approvals_required').notNull(),
    autoApproved: boolean('auto_approved').notNull().default(false),
    /** The requester approved it themselves (a resource that allows it): the digest lists these. */
    selfApproved: boolean('self_approved').notNull().default(false),
    createdAt: ms('created_at').notNull(),
    pendingUntil: ms('pending_until').notNull(),
    decidedAt: ms('decided_at'),
    decidedBy: text('decided_by'),
    decisionReason: text('decision_reason'),
    clientKey: text('client_key').unique(),
    /** The longest duration the resource allowed when the request was filed. */
    maxDurationMs: ms('max_duration_ms'),
    /** For a pipeline's request: how it authenticated (JSON), so policy can be asked again at decision time. */
    caller: text('caller'),
    /** When the access is to start, for a request that asked for a later start (`from 14:00`). */
    startAt: ms('start_at'),
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

export const approvals = pgTable(
  'approvals',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    requestId: text('request_id')
      .notNull()
      .references(() => requests.id),
    approver: text('approver').notNull(),
    decision: text('decision', { enum: DECISIONS }).notNull(),
    reason: text('reason'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [uniqueIndex('approvals_request_approver').on(t.requestId, t.approver)],
);
