import type { GrantRow } from '../../src/store';
import { upgradedStore, type OldDatabase } from '../support/old-database';
import { STORE_KINDS } from '../support/stores';

/**
 * Migration 0017 gives every grant whose end began before it existed the moment its end began,
 * the moment its revoke was recorded and whether the provider reported activity, from the
 * grant's audit events: the digest reads a week's revokes from those columns alone.
 */

const T = Date.UTC(2026, 10, 2, 9);
const MIN = 60_000;
/** The migration under test: both dialects name it alike. */
const UPGRADE = '0017_grant_ends_for_the_digest';

/** What the older Hallpass wrote for one grant: the row (status, reason) and its events. */
interface Past {
  id: string;
  status: GrantRow['status'];
  endReason: GrantRow['endReason'];
  /** Set while the sweeper still has work for the grant. */
  nextAttemptAt?: number;
  events: [action: string, at: number, details?: object][];
}

const PAST: Past[] = [
  {
    id: 'g_expired',
    status: 'revoked',
    endReason: 'expired',
    events: [
      ['grant.activated', T],
      ['grant.revoke_requested', T + 60 * MIN],
      ['grant.revoked', T + 61 * MIN, { reason: 'expired', activity: { summary: '3× SELECT' } }],
    ],
  },
  {
    id: 'g_early',
    status: 'revoked',
    endReason: 'revoked_by_user',
    events: [
      ['grant.activated', T],
      ['grant.revoke_requested', T + 10 * MIN],
      ['grant.revoked', T + 12 * MIN, { reason: 'revoked_by_user', activity: null }],
    ],
  },
  {
    id: 'g_failed',
    status: 'failed',
    endReason: 'activation_failed',
    events: [
      ['grant.failed', T + 5 * MIN],
      ['grant.revoked', T + 6 * MIN, { reason: 'activation_failed' }],
    ],
  },
  {
    id: 'g_revoking',
    status: 'revoking',
    endReason: 'revoked_by_admin',
    nextAttemptAt: T + 20 * MIN,
    events: [
      ['grant.activated', T],
      ['grant.revoke_requested', T + 20 * MIN],
    ],
  },
  {
    id: 'g_active',
    status: 'active',
    endReason: null,
    nextAttemptAt: T + 60 * MIN,
    events: [['grant.activated', T]],
  },
];

async function writePast(db: OldDatabase): Promise<void> {
  for (const g of PAST) {
    await db.run(
      `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status,
         approvals_required, auto_approved, created_at, pending_until)
       VALUES (?, 'access', 'UREQ', 'prod-db', 3600000, 'an older week', 'approved', 1, false, ?, ?)`,
      [`req_${g.id}`, T, T + 86_400_000],
    );
    await db.run(
      `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms,
         expires_at, next_attempt_at, attempts, end_reason, created_at)
       VALUES (?, ?, 'UREQ', 'prod-db', 'hook', ?, 3600000, ?, ?, 0, ?, ?)`,
      [g.id, `req_${g.id}`, g.status, T + 60 * MIN, g.nextAttemptAt ?? null, g.endReason, T],
    );
    for (const [action, at, details] of g.events)
      await db.event({ at, action, requestId: `req_${g.id}`, grantId: g.id, details });
  }
}

describe.each(STORE_KINDS)('upgrading a %s database to migration 0017', (kind) => {
  const upgraded = upgradedStore(kind, UPGRADE, writePast);

  const ends = async (id: string) => {
    const g = await upgraded().grants.byId(id);
    return g && { asked: g.endAskedAt, recorded: g.endRecordedAt, activity: g.activityReported };
  };

  it('fills in when each end began and was recorded, and whether activity was reported', async () => {
    expect(await ends('g_expired')).toEqual({
      asked: T + 60 * MIN,
      recorded: T + 61 * MIN,
      activity: true,
    });
    expect(await ends('g_early')).toEqual({
      asked: T + 10 * MIN,
      recorded: T + 12 * MIN,
      activity: false,
    });
    expect(await ends('g_failed')).toEqual({
      asked: T + 5 * MIN,
      recorded: T + 6 * MIN,
      activity: false,
    });
    expect(await ends('g_revoking')).toEqual({
      asked: T + 20 * MIN,
      recorded: null,
      activity: false,
    });
    expect(await ends('g_active')).toEqual({ asked: null, recorded: null, activity: false });
  });

  it('gives the digest the older revokes: counted, listed and found late as before', async () => {
    const week = { start: T, end: T + 7 * 24 * 60 * MIN };
    const revoked = await upgraded().reports.revoked(week, 5);
    expect(Object.fromEntries(revoked.endsByReason)).toEqual({
      expired: 1,
      revoked_by_user: 1,
      activation_failed: 1,
    });
    expect(revoked.activity.total).toBe(1);
    expect(revoked.activity.items.map((i) => [i.grantId, i.at])).toEqual([
      ['g_expired', T + 61 * MIN],
    ]);
    const problems = await upgraded().reports.revocationProblems(week, T + 25 * MIN, MIN, 10);
    expect(problems.items.map((p) => [p.grantId, p.kind, p.dueAt, p.overrunMs])).toEqual([
      ['g_revoking', 'stuck', T + 20 * MIN, 5 * MIN],
      ['g_early', 'late', T + 10 * MIN, 2 * MIN],
    ]);
  });
});
