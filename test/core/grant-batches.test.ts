import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { refuse, restoreTriggers } from '../store/triggers';

const MIN = 60_000;

/** An active 30-minute grant of `user` on the auto-approved resource. */
async function activeGrant(h: CoreHarness, user: string): Promise<string> {
  const req = await h.core.createRequest({
    requester: user,
    resourceId: 'auto',
    duration: '30m',
    justification: 'investigating INC-42 slow queries',
  });
  const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  const now = h.clock.now();
  await h.core.lifecycle.activated(grantId, {
    startsAt: now,
    expiresAt: now + 30 * MIN,
    state: undefined,
    elapsedMs: 1,
  });
  return grantId;
}

async function eventsOf(
  h: CoreHarness,
  grantId: string,
): Promise<{ action: string; details: unknown }[]> {
  const rows = await h.sql.all<{ action: string; details: string }>(
    'SELECT action, details FROM audit_events WHERE grant_id = ? ORDER BY seq',
    grantId,
  );
  return rows.map((e) => ({ action: e.action, details: JSON.parse(e.details) }));
}

describe.each(STORE_KINDS)('grant changes in batches (%s)', (kind) => {
  let h: CoreHarness;
  let commits: number;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
    commits = 0;
    h.core.onCommit(() => commits++);
  });
  afterEach(async () => {
    await restoreTriggers();
    await h.close();
  });

  it('expires several grants in one transaction, each with its own audit event', async () => {
    const ids = [
      await activeGrant(h, 'UA'),
      await activeGrant(h, 'UB'),
      await activeGrant(h, 'UC'),
    ];
    h.clock.advance(30 * MIN + 2_000);
    commits = 0;
    const rows = await h.core.lifecycle.expire(ids);
    expect(commits).toBe(1);
    for (const [i, id] of ids.entries()) {
      expect(rows[i]).toEqual(await h.core.grant(id));
      expect(rows[i]).toMatchObject({ status: 'revoking', endReason: 'expired', attempts: 0 });
      expect((await eventsOf(h, id)).at(-1)).toEqual({
        action: 'grant.revoke_requested',
        details: { reason: 'expired', expiresAt: rows[i]!.expiresAt, lagMs: 2_000 },
      });
    }
    expect((await h.core.audit.verifySince()).intact).toBe(true);
  });

  it('leaves out a grant not due (or extended meanwhile), one that is gone and one already ending', async () => {
    const due = await activeGrant(h, 'UA');
    h.clock.advance(10 * MIN);
    const later = await activeGrant(h, 'UB');
    const revoked = await activeGrant(h, 'UC');
    await h.core.revokeGrant({ grantId: revoked, actor: 'UC' });
    h.clock.advance(20 * MIN);
    const rows = await h.core.lifecycle.expire([due, later, 'gr_missing', revoked]);
    expect(rows.map((g) => g?.status)).toEqual(['revoking', 'active', undefined, 'revoking']);
    expect((await eventsOf(h, later)).map((e) => e.action)).toEqual([
      'grant.created',
      'grant.activated',
    ]);
    expect(
      (await eventsOf(h, revoked)).filter((e) => e.action === 'grant.revoke_requested'),
    ).toHaveLength(1);
  });

  it('records several confirmed revokes in one transaction, each with its audit event and DMs', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    await h.core.lifecycle.expire(ids);
    h.clock.advance(700);
    commits = 0;
    const rows = await h.core.lifecycle.revoked([
      { grantId: ids[0]!, checked: true, elapsedMs: 12 },
      { grantId: ids[1]!, coveredBy: 'gr_other' },
    ]);
    expect(commits).toBe(1);
    expect(rows.map((g) => g?.status)).toEqual(['revoked', 'revoked']);
    for (const [i, row] of rows.entries()) expect(row).toEqual(await h.core.grant(ids[i]!));
    expect((await eventsOf(h, ids[0]!)).at(-1)).toEqual({
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
    expect((await eventsOf(h, ids[1]!)).at(-1)?.details).toMatchObject({
      providerCall: 'skipped',
      coveredBy: 'gr_other',
    });
    const dms = await h.sql.all<{ key: string }>(
      "SELECT key FROM outbox WHERE key LIKE 'grant.ended:%' ORDER BY id",
    );
    expect(dms.map((r) => r.key)).toEqual(ids.map((id) => `grant.ended:${id}:dm`));
  });

  it('rolls back the whole batch when one change in it cannot be written', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    const before = await h.sql.value('SELECT count(*) FROM audit_events');
    await refuse(h.sql, kind, {
      name: 'refuse_ub',
      table: 'grants',
      on: 'UPDATE OF status',
      when: "NEW.user_id = 'UB'",
      message: 'disk says no',
    });
    commits = 0;
    await expect(h.core.lifecycle.expire(ids)).rejects.toMatchObject({ message: 'disk says no' });
    expect(commits).toBe(0);
    const statuses = await Promise.all(ids.map(async (id) => (await h.core.grant(id))!.status));
    expect(statuses).toEqual(['active', 'active']);
    expect(await h.sql.value('SELECT count(*) FROM audit_events')).toBe(before);
  });

  it('does nothing, not even a transaction, for no grants', async () => {
    expect(await h.core.lifecycle.expire([])).toEqual([]);
    expect(await h.core.lifecycle.revoked([])).toEqual([]);
    expect(commits).toBe(0);
  });
});
