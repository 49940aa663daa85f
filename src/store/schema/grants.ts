import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { requests } from './requests';

export const GRANT_STATUSES = ['activating', 'active', 'revoking', 'revoked', 'failed'] as const;
export const END_REASONS = [
  'expired',
  'revoked_by_user',
  'revoked_by_admin',
  'activation_failed',
] as const;

/**
 * Access that a provider has been (or is being) asked to give. `next_attempt_at` drives the
 * sweeper: for `activating`/`revoking` it is when to call the provider next, for `active` it
 * equals `expires_at`, so one partial index answers "what is due" without a scan.
 */
export const grants = sqliteTable(
  'grants',
  {
    id: text('id').primaryKey(),
    requestId: text('request_id')
      .notNull()
      .references(() => requests.id),
    userId: text('user_id').notNull(),
    resourceId: text('resource_id').notNull(),
    provider: text('provider').notNull(),
    status: text('status', { enum: GRANT_STATUSES }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    startsAt: integer('starts_at'),
    expiresAt: integer('expires_at'),
    providerExpiresAt: integer('provider_expires_at'),
    nextAttemptAt: integer('next_attempt_at'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    alertedAt: integer('alerted_at'),
    warnedAt: integer('warned_at'),
    providerState: text('provider_state'),
    endReason: text('end_reason', { enum: END_REASONS }),
    endedBy: text('ended_by'),
    endNote: text('end_note'),
    endedAt: integer('ended_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('grants_due')
      .on(t.nextAttemptAt)
      .where(sql`status in ('activating', 'active', 'revoking')`),
    index('grants_unwarned')
      .on(t.expiresAt)
      .where(sql`status = 'active' and warned_at is null`),
    index('grants_unsynced')
      .on(t.id)
      .where(sql`status = 'active' and provider_expires_at < expires_at`),
    index('grants_user_resource').on(t.userId, t.resourceId, t.status),
    index('grants_request').on(t.requestId),
  ],
);
