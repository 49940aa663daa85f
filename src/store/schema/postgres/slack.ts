import { bigint, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

/** Where the Slack layer posted a request's message, so later changes edit it in place. */
export const slackMessages = pgTable(
  'slack_messages',
  {
    subject: text('subject').notNull(),
    purpose: text('purpose').notNull(),
    channel: text('channel').notNull(),
    ts: text('ts').notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.subject, t.purpose] })],
);

/** The PostgreSQL twin of the SQLite `home_viewers` table (see its comment there). */
export const homeViewers = pgTable('home_viewers', {
  userId: text('user_id').primaryKey(),
  firstOpenedAt: bigint('first_opened_at', { mode: 'number' }).notNull(),
});
