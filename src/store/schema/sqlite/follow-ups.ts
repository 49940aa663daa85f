import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { BREAK_GLASS_VERDICTS, FOLLOW_UP_STEPS } from '../enums';

/**
 * One row per use of break-glass: access granted at once without approval, to be reviewed by an
 * approver of the resource by `review_due_at`. The request and its grant are ordinary rows.
 */
export const breakGlassUses = sqliteTable(
  'break_glass_uses',
  {
    requestId: text('request_id').primaryKey(),
    grantId: text('grant_id').notNull(),
    userId: text('user_id').notNull(),
    resourceId: text('resource_id').notNull(),
    usedAt: integer('used_at').notNull(),
    reviewDueAt: integer('review_due_at').notNull(),
    reviewedAt: integer('reviewed_at'),
    reviewedBy: text('reviewed_by'),
    verdict: text('verdict', { enum: BREAK_GLASS_VERDICTS }),
    note: text('note'),
  },
  (t) => [
    index('break_glass_uses_used_at').on(t.usedAt),
    index('break_glass_uses_review_due')
      .on(t.reviewDueAt)
      .where(sql`reviewed_at is null`),
  ],
);

/**
 * What Hallpass sent about a request after it was filed (a reminder, an escalation, a review
 * overdue notice): inserted in the change that queues it, so each is sent once across restarts
 * and replicas.
 */
export const followUps = sqliteTable(
  'follow_ups',
  {
    requestId: text('request_id').notNull(),
    step: text('step', { enum: FOLLOW_UP_STEPS }).notNull(),
    at: integer('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.step] })],
);
