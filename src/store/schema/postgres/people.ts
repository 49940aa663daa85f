import { bigint, pgTable, text } from 'drizzle-orm/pg-core';
import { PERSON_STATES } from '../enums';

/** The PostgreSQL twin of the SQLite `people` table (see its comment there). */
export const people = pgTable('people', {
  userId: text('user_id').primaryKey(),
  state: text('state', { enum: PERSON_STATES }).notNull(),
  changedAt: bigint('changed_at', { mode: 'number' }).notNull(),
  checkedAt: bigint('checked_at', { mode: 'number' }).notNull(),
});

/** Facts about this installation, such as when it first started. */
export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
