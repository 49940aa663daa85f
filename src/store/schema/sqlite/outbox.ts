import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { OUTBOX_STATUSES } from '../enums';

/**
 * Notifications the core wants delivered, written in the same transaction as the change that
 * caused them. `key` is the idempotency key: the same notification is never queued twice.
 * Rows of one `subject` are delivered in order. `payload` may hold sealed (encrypted) secrets; it is cleared once delivered.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull().unique(),
    subject: text('subject').notNull(),
    topic: text('topic').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: OUTBOX_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    sentAt: integer('sent_at'),
  },
  (t) => [
    index('outbox_due')
      .on(t.nextAttemptAt)
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
