import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { PERSON_STATES } from '../enums';

/**
 * What Hallpass last learned of each person from the directory: a deactivated person can
 * neither file nor be granted, even while the directory is out of reach.
 */
export const people = sqliteTable('people', {
  userId: text('user_id').primaryKey(),
  state: text('state', { enum: PERSON_STATES }).notNull(),
  changedAt: integer('changed_at').notNull(),
  checkedAt: integer('checked_at').notNull(),
});

/** Facts about this installation, such as when it first started. */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
