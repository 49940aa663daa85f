import { DomainError } from '../../src/core';
import {
  beginExpiry,
  coveringGrant,
  dueGrants,
  getGrant,
  grantsToSync,
  grantsToWarn,
  recordActivated,
  recordAttemptFailed,
  recordRevoked,
  recordWarned,
} from '../../src/core/grant-progress';
import { coreHarness, type CoreHarness } from '../support/core';

const JUST = 'investigating INC-42 slow queries';
const H = 3_600_000;
const RETRY = { retryBase: 1000, retryMax: 60_000, alertAfterAttempts: 3, random: () => 1 };

async function activeGrant(h: CoreHarness, resourceId = 'prod-db', duration = '1h', user = 'UREQ') {
  const req = await h.core.createRequest({
    requester: user,
    resourceId,
    duration,
    justification: JUST,
  });
  if (req.status !== 'approved') {
    const approver = resourceId === 'quorum' ? ['UA1', 'UA2'] : ['ULEAD'];
    for (const actor of approver)
      await h.core.decide({ requestId: req.id, actor, decision: 'approve' });
  }
  const grantId = h.db.$client
    .prepare('SELECT id FROM grants WHERE request_id = ?')
    .pluck()
    .get(req.id) as string;
  const now = h.clock.now();
  const durationMs = req.durationMs;
  expect(
    recordActivated(h.core.ctx, grantId, {
      startsAt: now,
      expiresAt: now + durationMs,
      state: { role: 'x' },
      elapsedMs: 5,
    }),
  ).toBe(true);
  return getGrant(h.core.ctx, grantId)!;
}

function actions(h: CoreHarness, grantId: string): string[] {
  return h.db.$client
    .prepare('SELECT action FROM audit_events WHERE grant_id = ? ORDER BY seq')
    .pluck()
    .all(grantId) as string[];
}

describe('grant lifecycle', () => {
  let h: CoreHarness;
  beforeEach(() => (h = coreHarness()));
  afterEach(() => h.close());

  it('starts the clock when the grant becomes active, not when it was requested', async () => {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    h.clock.advance(5 * 60_000);
    const [grant] = dueGrants(h.core.ctx, 10);
    const now = h.clock.now();
    recordActivated(h.core.ctx, grant!.id, {
      startsAt: now,
      expiresAt: now + 30 * 60_000,
      state: undefined,
      elapsedMs: 1,
    });
    const active = getGrant(h.core.ctx, grant!.id)!;
    expect(active).toMatchObject({
      status: 'active',
      startsAt: now,
      expiresAt: now + 30 * 60_000,
      nextAttemptAt: now + 30 * 60_000,
    });
    expect(active.startsAt! - req.createdAt).toBe(5 * 60_000);
    const topics = h.db.$client
      .prepare("SELECT payload FROM outbox WHERE topic = 'requester_dm'")
      .pluck()
      .all() as string[];
    expect(topics.map((t) => JSON.parse(t).event)).toEqual([
      'request.received',
      'request.approved',
      'grant.active',
    ]);
  });

  it('expires on time: due only once expires_at is reached, then revoked after the provider confirmed', async () => {
    const grant = await activeGrant(h);
    h.clock.advance(H - 1);
    expect(dueGrants(h.core.ctx, 10)).toHaveLength(0);
    h.clock.advance(1);
    expect(dueGrants(h.core.ctx, 10).map((g) => g.id)).toEqual([grant.id]);
    expect(beginExpiry(h.core.ctx, grant.id)).toMatchObject({
      status: 'revoking',
      endReason: 'expired',
    });
    expect(getGrant(h.core.ctx, grant.id)!.status).toBe('revoking');
    recordRevoked(h.core.ctx, grant.id, { checked: true, elapsedMs: 3 });
    expect(getGrant(h.core.ctx, grant.id)).toMatchObject({
      status: 'revoked',
      endedAt: h.clock.now(),
      endReason: 'expired',
    });
    expect(actions(h, grant.id)).toEqual([
      'grant.created',
      'grant.activated',
      'grant.revoke_requested',
      'grant.revoked',
    ]);
  });

  it('keeps a failing revoke in revoking, backs off, and alerts once after N failures', async () => {
    const grant = await activeGrant(h);
    h.clock.advance(H);
    beginExpiry(h.core.ctx, grant.id);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const row = recordAttemptFailed(h.core.ctx, grant.id, 'connection refused', RETRY)!;
      delays.push(row.nextAttemptAt! - h.clock.now());
      expect(row.status).toBe('revoking');
      h.clock.set(row.nextAttemptAt!);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000]);
    const alerts = h.db.$client
      .prepare("SELECT payload FROM outbox WHERE topic = 'alert'")
      .pluck()
      .all() as string[];
    expect(alerts.map((a) => JSON.parse(a))).toEqual([
      {
        topic: 'alert',
        grantId: grant.id,
        channel: 'CDBA',
        admins: ['UADMIN'],
        action: 'revoke',
        attempts: 3,
        error: 'connection refused',
      },
    ]);
    expect(actions(h, grant.id).filter((a) => a === 'grant.revoke_failed_attempt')).toHaveLength(5);
    recordRevoked(h.core.ctx, grant.id, {});
    expect(getGrant(h.core.ctx, grant.id)!.status).toBe('revoked');
  });

  it('gives up activation after N failures, tells people, and cleans up with a revoke before marking it failed', async () => {
    await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const [grant] = dueGrants(h.core.ctx, 10);
    let row = grant!;
    for (let i = 0; i < 3; i++) row = recordAttemptFailed(h.core.ctx, row.id, 'HTTP 503', RETRY)!;
    expect(row).toMatchObject({ status: 'revoking', endReason: 'activation_failed' });
    const dm = h.db.$client
      .prepare("SELECT payload FROM outbox WHERE topic = 'requester_dm'")
      .pluck()
      .all() as string[];
    expect(dm.map((p) => JSON.parse(p).event)).toContain('grant.failed');
    recordRevoked(h.core.ctx, row.id, {});
    expect(getGrant(h.core.ctx, row.id)!.status).toBe('failed');
  });

  it('ignores a late activation answer for a grant revoked meanwhile', async () => {
    await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const [grant] = dueGrants(h.core.ctx, 10);
    h.core.revokeGrant({ grantId: grant!.id, actor: 'UREQ' });
    const now = h.clock.now();
    expect(
      recordActivated(h.core.ctx, grant!.id, {
        startsAt: now,
        expiresAt: now + 1000,
        state: undefined,
        elapsedMs: 1,
      }),
    ).toBe(false);
    expect(getGrant(h.core.ctx, grant!.id)!.status).toBe('revoking');
  });

  it('lets the holder or an admin revoke early, idempotently', async () => {
    const grant = await activeGrant(h);
    expect(() => h.core.revokeGrant({ grantId: grant.id, actor: 'UOTHER' })).toThrow(DomainError);
    const first = h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ', reason: 'done' });
    expect(first).toMatchObject({
      status: 'revoking',
      endReason: 'revoked_by_user',
      endedBy: 'UREQ',
      endNote: 'done',
    });
    h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ' });
    expect(actions(h, grant.id).filter((a) => a === 'grant.revoke_requested')).toHaveLength(1);

    const other = await activeGrant(h, 'prod-db', '1h', 'UOTHER2');
    expect(h.core.revokeGrant({ grantId: other.id, actor: 'UADMIN' }).endReason).toBe(
      'revoked_by_admin',
    );
    const third = await activeGrant(h, 'prod-db', '1h', 'UOTHER3');
    expect(
      h.core.revokeGrant({ grantId: third.id, actor: 'cli:root', viaCli: true }).endReason,
    ).toBe('revoked_by_admin');
  });

  it('sees another active grant of the same user and resource as covering', async () => {
    const a = await activeGrant(h);
    const b = await activeGrant(h);
    expect(coveringGrant(h.core.ctx, a)?.id).toBe(b.id);
    h.clock.advance(H);
    expect(coveringGrant(h.core.ctx, a)).toBeUndefined();
  });

  it('warns once per grant shortly before expiry', async () => {
    const grant = await activeGrant(h);
    expect(grantsToWarn(h.core.ctx, 10 * 60_000)).toHaveLength(0);
    h.clock.advance(H - 10 * 60_000);
    expect(grantsToWarn(h.core.ctx, 10 * 60_000).map((g) => g.id)).toEqual([grant.id]);
    recordWarned(h.core.ctx, grant.id);
    recordWarned(h.core.ctx, grant.id);
    expect(grantsToWarn(h.core.ctx, 10 * 60_000)).toHaveLength(0);
    expect(
      h.db.$client
        .prepare("SELECT count(*) FROM outbox WHERE key LIKE 'grant.expiring:%'")
        .pluck()
        .get(),
    ).toBe(1);
  });
});

describe('extensions', () => {
  let h: CoreHarness;
  beforeEach(() => (h = coreHarness()));
  afterEach(() => h.close());

  it('moves expires_at without a gap once approved, and asks the provider to sync', async () => {
    const grant = await activeGrant(h, 'quorum', '2h');
    h.clock.advance(H);
    const ext = await h.core.requestExtension({
      grantId: grant.id,
      actor: 'UREQ',
      duration: '2h',
      justification: 'the migration is still running',
    });
    expect(ext).toMatchObject({ kind: 'extension', grantId: grant.id, status: 'pending' });
    await h.core.decide({ requestId: ext.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: ext.id, actor: 'UA2', decision: 'approve' });
    const after = getGrant(h.core.ctx, grant.id)!;
    expect(after.expiresAt).toBe(grant.expiresAt! + 2 * H);
    expect(after.nextAttemptAt).toBe(after.expiresAt);
    expect(grantsToSync(h.core.ctx).map((g) => g.id)).toEqual([grant.id]);
    expect(h.db.$client.prepare('SELECT count(*) FROM grants').pluck().get()).toBe(1);
  });

  it('refuses to go beyond the total ceiling counted from the original start', async () => {
    const grant = await activeGrant(h, 'quorum', '2h');
    const ask = (duration: string) =>
      h.core.requestExtension({
        grantId: grant.id,
        actor: 'UREQ',
        duration,
        justification: 'the migration is still running',
      });
    const ext = await ask('2h');
    await h.core.decide({ requestId: ext.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: ext.id, actor: 'UA2', decision: 'approve' });
    const ext2 = await ask('2h');
    await h.core.decide({ requestId: ext2.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: ext2.id, actor: 'UA3', decision: 'approve' });
    await expect(ask('5m')).rejects.toThrow(
      'quorum allows 6h in all from the start of a grant, so you can ask for no more time.',
    );
  });

  it('refuses extensions of other people’s grants, of ended grants, and a second one while one is pending', async () => {
    const grant = await activeGrant(h, 'quorum', '1h');
    const ask = (actor: string) =>
      h.core.requestExtension({
        grantId: grant.id,
        actor,
        duration: '1h',
        justification: 'the migration is still running',
      });
    await expect(ask('UOTHER')).rejects.toThrow(`Grant ${grant.id} is not yours to extend.`);
    await ask('UREQ');
    await expect(ask('UREQ')).rejects.toThrow(/already waiting for approval/);
    h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ' });
    await expect(ask('UREQ')).rejects.toThrow(
      `Grant ${grant.id} is revoking; only active grants can be extended.`,
    );
  });
});
