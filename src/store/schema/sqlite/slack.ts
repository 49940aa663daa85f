import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Where the Slack layer posted a request's message, so later changes edit it in place. */
export const slackMessages = sqliteTable(
  'slack_messages',
  {
    subject: text('subject').notNull(),
    purpose: text('purpose').notNull(),
    channel: text('channel').notNull(),
    ts: text('ts').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subject, t.purpose] })],
);

/**
 * Who has opened Hallpass's Home tab. Only their Home is drawn again when something on it
 * changes: a Home nobody opened is drawn when it is first opened (app_home_opened).
 */
export const homeViewers = sqliteTable('home_viewers', {
  userId: text('user_id').primaryKey(),
  firstOpenedAt: integer('first_opened_at').notNull(),
});
