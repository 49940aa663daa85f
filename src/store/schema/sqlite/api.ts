import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { grants } from './grants';

/**
 * API tokens for pipelines and scripts. Only a SHA-256 of the token is kept: the token itself is
 * shown once, when it is created. Each is bound to an identity (`ci:deploy-bot`) and to the
 * resources it may request; a revoked token stays for the record.
 */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    identity: text('identity').notNull(),
    /** JSON array of resource ids. */
    resources: text('resources').notNull(),
    /** Hex SHA-256 of the whole token. */
    hash: text('hash').notNull(),
    note: text('note'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    revokedBy: text('revoked_by'),
  },
  (t) => [index('api_tokens_identity').on(t.identity)],
);

/**
 * Credentials a provider returned for a pipeline's grant, sealed, until the grant ends: a
 * pipeline reads them through the API instead of a Slack DM.
 */
export const pipelineCredentials = sqliteTable('pipeline_credentials', {
  grantId: text('grant_id')
    .primaryKey()
    .references(() => grants.id),
  sealed: text('sealed').notNull(),
  createdAt: integer('created_at').notNull(),
});
