import { sql } from 'drizzle-orm';
import { bigint, index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { BREAK_GLASS_VERDICTS, FOLLOW_UP_STEPS } from '../enums';

const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `break_glass_uses` table (see its comment there). */
export const breakGlassUses = pgTable(
  'break_glass_uses',
  {
    requestId: text('request_id').primaryKey(),
    grantId: text('grant_id').notNull(),
    userId: text('user_id').notNull(),
    resourceId: text('resource_id').notNull(),
    usedAt: ms('used_at').notNull(),
    reviewDueAt: ms('review_due_at').notNull(),
    reviewedAt: ms('reviewed_at'),
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

/** The PostgreSQL twin of the SQLite `follow_ups` table. */
export const followUps = pgTable(
  'follow_ups',
  {
    requestId: text('request_id').notNull(),
    step: text('step', { enum: FOLLOW_UP_STEPS }).notNull(),
    at: ms('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.step] })],
);
