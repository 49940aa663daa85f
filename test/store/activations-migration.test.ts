import { upgradedStore, type OldDatabase } from '../support/old-database';
import { STORE_KINDS } from '../support/stores';

/**
 * Migration 0019 marks the requests their requester approved and gives every activated grant the
 * moment its activation was recorded, from the approvals and the audit events an older Hallpass
 * wrote: the digest reads its self-approved requests and its activations from those columns.
 */

const T = Date.UTC(2026, 10, 2, 9);
const MIN = 60_000;
const UPGRADE = '0019_activations_and_self_approvals';
const WEEK = { start: T, end: T + 7 * 24 * 60 * MIN };

/** A request approved (or denied) at T + 5 minutes, with its approvers' decisions. */
async function request(
  db: OldDatabase,
  id: string,
  status: 'approved' | 'denied',
  approvals: [approver: string, decision: 'approve' | 'deny'][],
): Promise<void> {
  await db.run(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status,
       approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', 'UREQ', 'prod-db', 3600000, 'an older week', ?, 1, false, ?, ?, ?, ?)`,
    [id, status, T, T + 86_400_000, T + 5 * MIN, approvals[0]![0]],
  );
  for (const [approver, decision] of approvals)
    await db.run(
      `INSERT INTO approvals (request_id, approver, decision, created_at) VALUES (?, ?, ?, ?)`,
      [id, approver, decision, T + 5 * MIN],
    );
}

/** A grant of `requestId` whose provider call began at `startsAt` (null: never activated). */
async function grant(
  db: OldDatabase,
  id: string,
  requestId: string,
  status: 'activating' | 'active',
  startsAt: number | null,
): Promise<void> {
  await db.run(
    `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms,
       starts_at, expires_at, next_attempt_at, attempts, created_at)
     VALUES (?, ?, 'UREQ', 'prod-db', 'hook', ?, 3600000, ?, ?, ?, 0, ?)`,
    [id, requestId, status, startsAt, startsAt && startsAt + 60 * MIN, T + 6 * MIN, T + 5 * MIN],
  );
}

async function writePast(db: OldDatabase): Promise<void> {
  await request(db, 'req_self', 'approved', [['UREQ', 'approve']]);
  await request(db, 'req_other', 'approved', [['UAPP', 'approve']]);
  await request(db, 'req_refused', 'denied', [['UREQ', 'deny']]);
  await grant(db, 'g_self', 'req_self', 'active', T + 6 * MIN);
  await db.event({
    at: T + 6 * MIN + 900,
    action: 'grant.activated',
    requestId: 'req_self',
    grantId: 'g_self',
  });
  await grant(db, 'g_other', 'req_other', 'activating', null);
}

describe.each(STORE_KINDS)('upgrading a %s database to migration 0019', (kind) => {
  const upgraded = upgradedStore(kind, UPGRADE, writePast);

  it('marks only the requests their requester approved', async () => {
    const marked = async (id: string) => (await upgraded().requests.byId(id))?.selfApproved;
    expect(await marked('req_self')).toBe(true);
    expect(await marked('req_other')).toBe(false);
    expect(await marked('req_refused')).toBe(false);
    const listed = await upgraded().reports.selfApproved(WEEK, 5);
    expect(listed.total).toBe(1);
    expect(listed.items.map((i) => [i.requestId, i.grantId])).toEqual([['req_self', 'g_self']]);
  });

  it('gives each activated grant the moment its activation was recorded', async () => {
    expect((await upgraded().grants.byId('g_self'))?.activatedAt).toBe(T + 6 * MIN + 900);
    expect((await upgraded().grants.byId('g_other'))?.activatedAt).toBeNull();
    expect(await upgraded().reports.longestGrants(WEEK, 5)).toEqual([
      expect.objectContaining({ grantId: 'g_self', startsAt: T + 6 * MIN, heldMs: 60 * MIN }),
    ]);
    const { count, outside } = await upgraded().reports.activations(WEEK, [], 5);
    expect(count).toBe(1);
    expect(outside.items.map((i) => [i.grantId, i.at])).toEqual([['g_self', T + 6 * MIN + 900]]);
  });
});
