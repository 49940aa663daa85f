/** The values of the enumerated text columns, shared by both dialects' tables and the domain. */
export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'expired'] as const;
export const REQUEST_KINDS = ['access', 'extension'] as const;
export const DECISIONS = ['approve', 'deny'] as const;
/**
 * `stranded`: the provider that gave the access is gone from the configuration (or points
 * elsewhere now, or its revoke kept failing), and an admin closed the grant by hand; the access
 * may still exist and needs cleaning up outside Hallpass.
 */
export const GRANT_STATUSES = [
  'activating',
  'active',
  'revoking',
  'revoked',
  'failed',
  'stranded',
] as const;
export const END_REASONS = [
  'expired',
  'revoked_by_user',
  'revoked_by_admin',
  'activation_failed',
  'offboarded',
  'provider_removed',
  'provider_moved',
  'resource_removed',
] as const;
/** What Hallpass last learned of a person from the directory. */
export const PERSON_STATES = ['active', 'deactivated', 'guest'] as const;
export const OUTBOX_STATUSES = ['pending', 'sent', 'dead'] as const;
/** How an approver judged a use of break-glass. */
export const BREAK_GLASS_VERDICTS = ['reviewed', 'flagged'] as const;
/**
 * What is sent about a request after it is filed: `remind` re-pings its approvers, `escalate`
 * asks the escalation target, `review_overdue` chases an unreviewed use of break-glass.
 */
export const FOLLOW_UP_STEPS = ['remind', 'escalate', 'review_overdue'] as const;
