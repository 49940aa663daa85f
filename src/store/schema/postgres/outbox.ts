import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { OUTBOX_STATUSES } from '../enums';

const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `outbox` table (see its comment there). */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    key: text('key').notNull().unique(),
    subject: text('subject').notNull(),
    topic: text('topic').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: OUTBOX_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ms('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: ms('created_at').notNull(),
    sentAt: ms('sent_at'),
  },
  (t) => [
    // In the claim's order, so its walk stops once it has its rows (SQLite's index ends in the
    // rowid, the id, without being told).
    index('outbox_due')
      .on(t.nextAttemptAt, t.id)
      .where(sql`status = 'pending'`),
    index('outbox_subject_pending')
      .on(t.subject, t.id)
      .where(sql`status = 'pending'`),
    // Dead rows are few and counted on every /metrics scrape.
    index('outbox_dead')
      .on(t.id)
      .where(sql`status = 'dead'`),
  ],
);
