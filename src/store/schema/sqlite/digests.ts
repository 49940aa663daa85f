import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * One row per weekly digest period, inserted in the transaction that queues its outbox row, so a
 * restart or a second scheduler on the same database never queues a period twice. When the digest
 * is posted it records the audit chain head it verified: the next digest verifies from there.
 */
export const digests = sqliteTable('digests', {
  /** ISO-8601 UTC start of the period; also the tail of the outbox key `digest:<periodKey>`. */
  periodKey: text('period_key').primaryKey(),
  periodStart: integer('period_start').notNull(),
  periodEnd: integer('period_end').notNull(),
  channel: text('channel').notNull(),
  queuedAt: integer('queued_at').notNull(),
  postedAt: integer('posted_at'),
  chainSeq: integer('chain_seq'),
  chainHash: text('chain_hash'),
});
