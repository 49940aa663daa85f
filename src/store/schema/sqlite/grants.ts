import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { END_REASONS, GRANT_STATUSES } from '../enums';
import { requests } from './requests';

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
    /** What the grant was made with (provider target, bounds, guarantees): calls use it, not today's file. */
    snapshot: text('snapshot'),
    /** No provider call for this grant is declared over before this: a timed-out call may still land. */
    fenceUntil: integer('fence_until'),
    /** When the target system is next read back for this grant (after it ended, or while active). */
    recheckAt: integer('recheck_at'),
    /** Read-backs made since the grant ended. */
    rechecks: integer('rechecks').notNull().default(0),
    /** The last read-back that agreed with the record. */
    verifiedAt: integer('verified_at'),
    /**
     * The email the provider was given the access for, recorded before the first grant call: its
     * later calls (a retry, revoke, read-back, a new expiry) name the same person, whatever the
     * directory says by then or whether it answers.
     */
    grantedEmail: text('granted_email'),
    /**
     * When the grant's end began: its expiry taken up, an early end asked for, or its activation
     * given up. A revoke is due at the earlier of this and the expiry.
     */
    endAskedAt: integer('end_asked_at'),
    /**
     * When the access was recorded gone (its `grant.revoked` event): the week a revoke counts in.
     * With the two below, the digest reads a week's revokes from one index, not their events.
     */
    endRecordedAt: integer('end_recorded_at'),
    /** Whether the provider said, at the revoke, what the access was used for (in that event). */
    activityReported: integer('activity_reported', { mode: 'boolean' }).notNull().default(false),
    /**
     * When the provider confirmed the access (the grant's `grant.activated` event): the week an
     * activation counts in. `starts_at` is when the call began, which can fall in another week.
     */
    activatedAt: integer('activated_at'),
  },
  (t) => [
    index('grants_due')
      .on(t.nextAttemptAt, t.id)
      .where(sql`status in ('activating', 'active', 'revoking')`),
    index('grants_unwarned')
      .on(t.expiresAt)
      .where(sql`status = 'active' and warned_at is null`),
    index('grants_unsynced')
      .on(t.id)
      .where(sql`status = 'active' and provider_expires_at < expires_at`),
    index('grants_user_resource').on(t.userId, t.resourceId, t.status),
    // A person's live grants (their Home, after every change of theirs) in order, read without
    // walking every grant they ever held.
    index('grants_user_live')
      .on(t.userId, t.expiresAt, t.id)
      .where(sql`status in ('activating', 'active', 'revoking')`),
    index('grants_request').on(t.requestId),
    index('grants_recheck')
      .on(t.recheckAt)
      .where(sql`recheck_at is not null`),
    index('grants_active_verified')
      .on(t.verifiedAt)
      .where(sql`status = 'active'`),
    // The digest's revokes of a week: counted by reason and activity, and the late ones found,
    // from the columns this index holds; only the few listed need the rest of their row.
    index('grants_end_recorded')
      .on(
        t.endRecordedAt,
        t.endReason,
        t.activityReported,
        t.attempts,
        t.expiresAt,
        t.endAskedAt,
        t.id,
      )
      .where(sql`end_recorded_at is not null`),
    // The digest's activations of a week: counted, found outside business hours and ranked by
    // how long each was held, from the columns this index holds.
    index('grants_activated')
      .on(t.activatedAt, t.startsAt, t.expiresAt, t.endedAt, t.id)
      .where(sql`activated_at is not null`),
  ],
);
