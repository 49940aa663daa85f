import type * as tables from './schema/sqlite';

/** Rows as the domain sees them; both dialects' tables infer these same types (see test/store). */
export type RequestRow = typeof tables.requests.$inferSelect;
export type ApprovalRow = typeof tables.approvals.$inferSelect;
export type GrantRow = typeof tables.grants.$inferSelect;
export type OutboxRow = typeof tables.outbox.$inferSelect;
export type PostedMessage = typeof tables.slackMessages.$inferSelect;
export type HomeViewerRow = typeof tables.homeViewers.$inferSelect;
export type DigestRow = typeof tables.digests.$inferSelect;
export type PersonRow = typeof tables.people.$inferSelect;
export type MetaRow = typeof tables.meta.$inferSelect;
export type ApiTokenRow = typeof tables.apiTokens.$inferSelect;
export type PipelineCredentialRow = typeof tables.pipelineCredentials.$inferSelect;
export type BreakGlassRow = typeof tables.breakGlassUses.$inferSelect;
export type FollowUpRow = typeof tables.followUps.$inferSelect;
export type FollowUpStep = FollowUpRow['step'];

/** An audit event as stored: `details` is canonical JSON text, `hash` chains it to `prevHash`. */
export type AuditRow = typeof tables.auditEvents.$inferSelect;

export {
  BREAK_GLASS_VERDICTS,
  DECISIONS,
  FOLLOW_UP_STEPS,
  END_REASONS,
  GRANT_STATUSES,
  OUTBOX_STATUSES,
  PERSON_STATES,
  REQUEST_KINDS,
  REQUEST_STATUSES,
} from './schema/enums';
