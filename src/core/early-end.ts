import type { END_REASONS } from '../store/rows';
import type { Change, GrantRow } from './context';
import { recordStep } from './steps';

export type EndReason = (typeof END_REASONS)[number];

export interface EarlyEnd {
  reason: EndReason;
  /** Who ended it: a person, `cli:<os user>` or `hallpass`. */
  by: string;
  note: string | null;
  /** More of why, for the audit event (where the ask came from). */
  details?: Record<string, unknown>;
}

/**
 * Ends a live grant ahead of its expiry, inside `c`: it moves to `revoking`, so the sweeper takes
 * the access away and marks it revoked once the provider confirms, and the step is audited with
 * the approver message redrawn. A grant call that timed out may still land: the revoke waits for
 * its fence.
 */
export async function endEarly(c: Change, grant: GrantRow, end: EarlyEnd): Promise<GrantRow> {
  const ended = {
    status: 'revoking' as const,
    endReason: end.reason,
    endedBy: end.by,
    endNote: end.note,
    endAskedAt: c.now,
    nextAttemptAt: Math.max(c.now, grant.fenceUntil ?? c.now),
    attempts: 0,
    lastError: null,
    alertedAt: null,
  };
  await c.tx.grants.set(grant.id, ended);
  recordStep(c, {
    actor: end.by,
    action: 'grant.revoke_requested',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { reason: end.reason, note: end.note, from: grant.status, ...end.details },
    redraw: grant.requestId,
  });
  return { ...grant, ...ended };
}

/** Whether a grant gives access, or is being given it, that an early end would take away. */
export function canEndEarly(grant: GrantRow): boolean {
  return grant.status === 'active' || grant.status === 'activating';
}
