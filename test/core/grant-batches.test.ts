import { verifyChain } from '../../src/core/audit';
import {
  beginExpiries,
  getGrant,
  recordActivated,
  recordRevocations,
} from '../../src/core/grant-progress';
import { coreHarness, type CoreHarness } from '../support/core';

const MIN = 60_000;

/** An active 30-minute grant of `user` on the auto-approved resource. */
async function activeGrant(h: CoreHarness, user: string): Promise<string> {
  const req = await h.core.createRequest({
    requester: user,
    resourceId: 'auto',
    duration: '30m',
    justification: 'investigating INC-42 slow queries',
  });
  const grantId = h.db.$client
    .prepare('SELECT id FROM grants WHERE request_id = ?')
    .pluck()
    .get(req.id) as string;
  const now = h.clock.now();
  recordActivated(h.core.ctx, grantId, {
    startsAt: now,
    expiresAt: now + 30 * MIN,
    state: undefined,
    elapsedMs: 1,
  });
  return grantId;
}

function eventsOf(h: CoreHarness, grantId: string): { action: string; details: unknown }[] {
  return (
    h.db.$client
      .prepare('SELECT action, details FROM audit_events WHERE grant_id = ? ORDER BY seq')
      .all(grantId) as { action: string; details: string }[]
  ).map((e) => ({ action: e.action, details: JSON.parse(e.details) }));
}

describe('grant changes in batches', () => {
  let h: CoreHarness;
  let commits: number;
  beforeEach(() => {
    h = coreHarness();
    commits = 0;
    h.core.onCommit(() => commits++);
  });
  afterEach(() => h.close());

  it('expires several grants in one transaction, each with its own audit event', async () => {
    const ids = [
      await activeGrant(h, 'UA'),
      await activeGrant(h, 'UB'),
      await activeGrant(h, 'UC'),
    ];
    h.clock.advance(30 * MIN + 2_000);
    commits = 0;
    const rows = beginExpiries(h.core.ctx, ids);
    expect(commits).toBe(1);
    for (const [i, id] of ids.entries()) {
      expect(rows[i]).toEqual(getGrant(h.core.ctx, id));
      expect(rows[i]).toMatchObject({ status: 'revoking', endReason: 'expired', attempts: 0 });
      expect(eventsOf(h, id).at(-1)).toEqual({
        action: 'grant.revoke_requested',
        details: { reason: 'expired', expiresAt: rows[i]!.expiresAt, lagMs: 2_000 },
      });
    }
    expect(verifyChain(h.db).intact).toBe(true);
  });

  it('leaves out a grant not due (or extended meanwhile), one that is gone and one already ending', async () => {
    const due = await activeGrant(h, 'UA');
    h.clock.advance(10 * MIN);
    const later = await activeGrant(h, 'UB');
    const revoked = await activeGrant(h, 'UC');
    h.core.revokeGrant({ grantId: revoked, actor: 'UC' });
    h.clock.advance(20 * MIN);
    const rows = beginExpiries(h.core.ctx, [due, later, 'gr_missing', revoked]);
    expect(rows.map((g) => g?.status)).toEqual(['revoking', 'active', undefined, 'revoking']);
    expect(eventsOf(h, later).map((e) => e.action)).toEqual(['grant.created', 'grant.activated']);
    expect(eventsOf(h, revoked).filter((e) => e.action === 'grant.revoke_requested')).toHaveLength(
      1,
    );
  });

  it('records several confirmed revokes in one transaction, each with its audit event and DMs', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    beginExpiries(h.core.ctx, ids);
    h.clock.advance(700);
    commits = 0;
    const rows = recordRevocations(h.core.ctx, [
      { grantId: ids[0]!, checked: true, elapsedMs: 12 },
      { grantId: ids[1]!, coveredBy: 'gr_other' },
    ]);
    expect(commits).toBe(1);
    expect(rows.map((g) => g?.status)).toEqual(['revoked', 'revoked']);
    rows.forEach((row, i) => expect(row).toEqual(getGrant(h.core.ctx, ids[i]!)));
    expect(eventsOf(h, ids[0]!).at(-1)).toEqual({
      action: 'grant.revoked',
      details: {
        reason: 'expired',
        endedBy: 'hallpass',
        attempts: 1,
        providerCall: 'revoke',
        checked: true,
        elapsedMs: 12,
        overrunMs: 700,
      },
    });
    expect(eventsOf(h, ids[1]!).at(-1)?.details).toMatchObject({
      providerCall: 'skipped',
      coveredBy: 'gr_other',
    });
    const dms = h.db.$client
      .prepare("SELECT key FROM outbox WHERE key LIKE 'grant.ended:%' ORDER BY id")
      .pluck()
      .all();
    expect(dms).toEqual(ids.map((id) => `grant.ended:${id}:dm`));
  });

  it('rolls back the whole batch when one change in it cannot be written', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    const before = h.db.$client.prepare('SELECT count(*) FROM audit_events').pluck().get();
    h.db.$client.exec(
      `CREATE TRIGGER refuse_ub BEFORE UPDATE OF status ON grants WHEN NEW.user_id = 'UB'
       BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
    );
    expect(() => beginExpiries(h.core.ctx, ids)).toThrow('disk says no');
    expect(ids.map((id) => getGrant(h.core.ctx, id)!.status)).toEqual(['active', 'active']);
    expect(h.db.$client.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(before);
  });

  it('does nothing, not even a transaction, for no grants', () => {
    expect(beginExpiries(h.core.ctx, [])).toEqual([]);
    expect(recordRevocations(h.core.ctx, [])).toEqual([]);
    expect(commits).toBe(0);
  });
});
