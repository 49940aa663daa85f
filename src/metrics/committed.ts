import type { AuditRow, RequestRow } from '../core';
import type { Instruments } from './instruments';

const DECIDED: Record<string, string> = {
  'request.approved': 'approved',
  'request.denied': 'denied',
  'request.cancelled': 'cancelled',
  'request.expired': 'expired',
};

type Details = Record<string, unknown>;

/** What counting a request's decision needs of it: its kind and when it was filed. */
export interface Filing {
  kind: RequestRow['kind'];
  createdAt: number;
}

/** Filings remembered at most; past this the oldest are forgotten, and read again if decided. */
const FILINGS_KEPT = 10_000;

/**
 * The requests this replica filed, remembered from their `request.created` events until they are
 * decided, so that counting a decision does not read its request back on every Approve click. A
 * request filed on another replica, or before a restart, is read from the store.
 */
export class Filings {
  private readonly kept = new Map<string, Filing>();

  constructor(private readonly read: (id: string) => Promise<RequestRow | undefined>) {}

  filed(id: string, filing: Filing): void {
    this.kept.set(id, filing);
    if (this.kept.size > FILINGS_KEPT) this.kept.delete(this.kept.keys().next().value!);
  }

  /** The filing of a request decided now; it is not needed again. */
  async decided(id: string): Promise<Filing | undefined> {
    const kept = this.kept.get(id);
    if (kept) {
      this.kept.delete(id);
      return kept;
    }
    const row = await this.read(id);
    return row && { kind: row.kind, createdAt: row.createdAt };
  }
}

/**
 * Counts what a committed change recorded, from its audit events: the log already says what
 * happened, so nothing is counted that did not commit, and nothing committed is missed. A
 * decision's latency runs from its request's filing to the decision's event, which the change
 * that set `decided_at` wrote at that same moment.
 */
export async function countCommitted(
  m: Instruments,
  rows: readonly AuditRow[],
  filings: Filings,
): Promise<void> {
  for (const row of rows) {
    const d = JSON.parse(row.details) as Details;
    const kind = d.kind === 'extension' ? 'extension' : 'access';
    if (row.action === 'request.created') {
      m.requestsFiled.inc({ kind });
      if (row.requestId) filings.filed(row.requestId, { kind, createdAt: row.at });
      continue;
    }
    const outcome = DECIDED[row.action];
    if (outcome !== undefined && row.requestId) {
      const filing = await filings.decided(row.requestId);
      const requestKind = filing?.kind ?? kind;
      if (row.action === 'request.approved' && d.auto === true) {
        m.requestsDecided.inc({ outcome: 'auto_approved', kind: requestKind });
        continue;
      }
      m.requestsDecided.inc({ outcome, kind: requestKind });
      const decided = row.action === 'request.approved' || row.action === 'request.denied';
      if (decided && filing) {
        m.decisionSeconds.observe({ kind: requestKind }, (row.at - filing.createdAt) / 1000);
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
