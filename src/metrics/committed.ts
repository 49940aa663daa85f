import type { AuditRow, RequestRow } from '../core';
import type { Instruments } from './instruments';

const DECIDED: Record<string, string> = {
  'request.approved': 'approved',
  'request.denied': 'denied',
  'request.cancelled': 'cancelled',
  'request.expired': 'expired',
};

type Details = Record<string, unknown>;

/**
 * Counts what a committed change recorded, from its audit events: the log already says what
 * happened, so nothing is counted that did not commit, and nothing committed is missed.
 * `requestOf` reads a decided request for its filing time.
 */
export async function countCommitted(
  m: Instruments,
  rows: readonly AuditRow[],
  requestOf: (id: string) => Promise<RequestRow | undefined>,
): Promise<void> {
  for (const row of rows) {
    const d = JSON.parse(row.details) as Details;
    const kind = d.kind === 'extension' ? 'extension' : 'access';
    if (row.action === 'request.created') {
      m.requestsFiled.inc({ kind });
      continue;
    }
    const outcome = DECIDED[row.action];
    if (outcome !== undefined && row.requestId) {
      const request = await requestOf(row.requestId);
      const requestKind = request?.kind ?? kind;
      if (row.action === 'request.approved' && d.auto === true) {
        m.requestsDecided.inc({ outcome: 'auto_approved', kind: requestKind });
        continue;
      }
      m.requestsDecided.inc({ outcome, kind: requestKind });
      const decided = row.action === 'request.approved' || row.action === 'request.denied';
      if (decided && request && request.decidedAt !== null) {
        m.decisionSeconds.observe(
          { kind: requestKind },
          (request.decidedAt - request.createdAt) / 1000,
        );
      }
      continue;
    }
    if (row.action === 'grant.revoked') {
      m.grantsEnded.inc({ reason: String(d.reason ?? 'unknown') });
      if (d.reason === 'expired' && typeof d.overrunMs === 'number') {
        m.revocationLagSeconds.observe(d.overrunMs / 1000);
      }
    }
  }
}
