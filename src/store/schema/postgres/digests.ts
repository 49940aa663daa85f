import { bigint, pgTable, text } from 'drizzle-orm/pg-core';

const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `digests` table (see its comment there). */
export const digests = pgTable('digests', {
  periodKey: text('period_key').primaryKey(),
  periodStart: ms('period_start').notNull(),
  periodEnd: ms('period_end').notNull(),
  channel: text('channel').notNull(),
  queuedAt: ms('queued_at').notNull(),
  postedAt: ms('posted_at'),
  chainSeq: bigint('chain_seq', { mode: 'number' }),
  chainHash: text('chain_hash'),
});
