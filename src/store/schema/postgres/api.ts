import { bigint, index, pgTable, text } from 'drizzle-orm/pg-core';
import { grants } from './grants';

const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `api_tokens` table (see its comment there). */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    identity: text('identity').notNull(),
    resources: text('resources').notNull(),
    hash: text('hash').notNull(),
    note: text('note'),
    createdAt: ms('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    expiresAt: ms('expires_at'),
    revokedAt: ms('revoked_at'),
    revokedBy: text('revoked_by'),
  },
  (t) => [index('api_tokens_identity').on(t.identity)],
);

/** The PostgreSQL twin of the SQLite `pipeline_credentials` table. */
export const pipelineCredentials = pgTable('pipeline_credentials', {
  grantId: text('grant_id')
    .primaryKey()
    .references(() => grants.id),
  sealed: text('sealed').notNull(),
  createdAt: ms('created_at').notNull(),
});
