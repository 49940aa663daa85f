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
