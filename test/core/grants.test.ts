import { DomainError, TAKE_AHEAD_MS, type Revocation } from '../../src/core';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

/** Every grant of a person here reaches the same account (one email). */
const ONE_ACCESS = () => Promise.resolve(true);

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
  const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  const now = h.clock.now();
  const durationMs = req.durationMs;
  expect(
    await h.core.lifecycle.activated(grantId, {
      startsAt: now,
      expiresAt: now + durationMs,
      state: { role: 'x' },
      elapsedMs: 5,
    }),
  ).toBe(true);
  return (await h.core.grant(grantId))!;
}

async function actions(h: CoreHarness, grantId: string): Promise<string[]> {
  const rows = await h.sql.all<{ action: string }>(
    'SELECT action FROM audit_events WHERE grant_id = ? ORDER BY seq',
    grantId,
  );
  return rows.map((r) => r.action);
}

async function payloads(h: CoreHarness, topic: string): Promise<Record<string, unknown>[]> {
  const rows = await h.sql.all<{ payload: string }>(
    'SELECT payload FROM outbox WHERE topic = ? ORDER BY id',
    topic,
  );
  return rows.map((r) => JSON.parse(r.payload) as Record<string, unknown>);
}

/** The one grant's expiry begins now; resolves with the grant as it is after. */
async function expireOne(h: CoreHarness, grantId: string) {
  const [row] = await h.core.lifecycle.expire([grantId]);
  return row;
}

function revokedOne(h: CoreHarness, grantId: string, r: Revocation) {
  return h.core.lifecycle.revoked([{ grantId, ...r }]);
}

describe.each(STORE_KINDS)('grant lifecycle (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(() => h.close());

  it('starts the clock when the grant becomes active, not when it was requested', async () => {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    h.clock.advance(5 * 60_000);
    const [grant] = await h.core.lifecycle.due(10);
    const now = h.clock.now();
    await h.core.lifecycle.activated(grant!.id, {
      startsAt: now,
      expiresAt: now + 30 * 60_000,
      state: undefined,
      elapsedMs: 1,
    });
    const active = (await h.core.grant(grant!.id))!;
    expect(active).toMatchObject({
      status: 'active',
      startsAt: now,
      expiresAt: now + 30 * 60_000,
      nextAttemptAt: now + 30 * 60_000,
    });
    expect(active.startsAt! - req.createdAt).toBe(5 * 60_000);
    expect((await payloads(h, 'requester_dm')).map((p) => p.event)).toEqual([
      'request.received',
      'request.approved',
      'grant.active',
    ]);
  });

  it('expires on time: due to be booked TAKE_AHEAD_MS before expires_at, then revoked after the provider confirmed', async () => {
    const grant = await activeGrant(h);
    h.clock.advance(H - TAKE_AHEAD_MS - 1);
    expect(await h.core.lifecycle.due(10)).toHaveLength(0);
    h.clock.advance(1);
    expect((await h.core.lifecycle.due(10)).map((g) => g.id)).toEqual([grant.id]);
    expect(await expireOne(h, grant.id)).toMatchObject({
      status: 'revoking',
      endReason: 'expired',
    });
    expect((await h.core.grant(grant.id))!.status).toBe('revoking');
    await revokedOne(h, grant.id, { checked: true, elapsedMs: 3 });
    expect(await h.core.grant(grant.id)).toMatchObject({
      status: 'revoked',
      endedAt: h.clock.now(),
      endReason: 'expired',
    });
    expect(await actions(h, grant.id)).toEqual([
      'grant.created',
      'grant.activated',
      'grant.revoke_requested',
      'grant.revoked',
    ]);
  });

  it('keeps a failing revoke in revoking, backs off, and alerts once after N failures', async () => {
    const grant = await activeGrant(h);
    h.clock.advance(H);
    await expireOne(h, grant.id);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const row = (await h.core.lifecycle.failed(grant.id, 'revoke', 'connection refused', RETRY))!;
      delays.push(row.nextAttemptAt! - h.clock.now());
      expect(row.status).toBe('revoking');
      h.clock.set(row.nextAttemptAt!);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(await payloads(h, 'alert')).toEqual([
      {
        topic: 'alert',
        grantId: grant.id,
        channel: 'CDBA',
        admins: ['UADMIN'],
        action: 'revoke',
        attempts: 3,
        error: 'revoke: connection refused',
      },
    ]);
    expect(
      (await actions(h, grant.id)).filter((a) => a === 'grant.revoke_failed_attempt'),
    ).toHaveLength(5);
    await revokedOne(h, grant.id, {});
    expect((await h.core.grant(grant.id))!.status).toBe('revoked');
  });

  it('gives up activation after N failures, tells people, and cleans up with a revoke before marking it failed', async () => {
    await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const [due] = await h.core.lifecycle.due(10);
    let row = (await h.core.grant(due!.id))!;
    for (let i = 0; i < 3; i++)
      row = (await h.core.lifecycle.failed(row.id, 'grant', 'HTTP 503', RETRY))!;
    expect(row).toMatchObject({ status: 'revoking', endReason: 'activation_failed' });
    expect((await payloads(h, 'requester_dm')).map((p) => p.event)).toContain('grant.failed');
    await revokedOne(h, row.id, {});
    expect((await h.core.grant(row.id))!.status).toBe('failed');
  });

  it('ignores a late activation answer for a grant revoked meanwhile', async () => {
    await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const [grant] = await h.core.lifecycle.due(10);
    await h.core.revokeGrant({ grantId: grant!.id, actor: 'UREQ' });
    const now = h.clock.now();
    expect(
      await h.core.lifecycle.activated(grant!.id, {
        startsAt: now,
        expiresAt: now + 1000,
        state: undefined,
        elapsedMs: 1,
      }),
    ).toBe(false);
    expect((await h.core.grant(grant!.id))!.status).toBe('revoking');
  });

  it('lets the holder or an admin revoke early, idempotently', async () => {
    const grant = await activeGrant(h);
    await expect(h.core.revokeGrant({ grantId: grant.id, actor: 'UOTHER' })).rejects.toThrow(
      DomainError,
    );
    const first = await h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ', reason: 'done' });
    expect(first).toMatchObject({
      status: 'revoking',
      endReason: 'revoked_by_user',
      endedBy: 'UREQ',
      endNote: 'done',
    });
    await h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ' });
    expect((await actions(h, grant.id)).filter((a) => a === 'grant.revoke_requested')).toHaveLength(
      1,
    );

    const other = await activeGrant(h, 'prod-db', '1h', 'UOTHER2');
    expect((await h.core.revokeGrant({ grantId: other.id, actor: 'UADMIN' })).endReason).toBe(
      'revoked_by_admin',
    );
    const third = await activeGrant(h, 'prod-db', '1h', 'UOTHER3');
    expect(
      (await h.core.revokeGrant({ grantId: third.id, actor: 'cli:root', viaCli: true })).endReason,
    ).toBe('revoked_by_admin');
  });

  it('sees another active grant of the same user and resource as covering', async () => {
    const a = await activeGrant(h);
    const b = await activeGrant(h);
    expect((await h.core.lifecycle.covering(a, ONE_ACCESS))?.id).toBe(b.id);
    h.clock.advance(H);
    expect(await h.core.lifecycle.covering(a, ONE_ACCESS)).toBeUndefined();
  });

  it('warns once per grant shortly before expiry', async () => {
    const grant = await activeGrant(h);
    expect(await h.core.lifecycle.toWarn(10 * 60_000)).toHaveLength(0);
    h.clock.advance(H - 10 * 60_000);
    expect((await h.core.lifecycle.toWarn(10 * 60_000)).map((g) => g.id)).toEqual([grant.id]);
    await h.core.lifecycle.warned(grant.id, grant.expiresAt);
    await h.core.lifecycle.warned(grant.id, grant.expiresAt);
    expect(await h.core.lifecycle.toWarn(10 * 60_000)).toHaveLength(0);
    expect(await h.sql.value("SELECT count(*) FROM outbox WHERE key LIKE 'grant.expiring:%'")).toBe(
      1,
    );
  });
});

describe.each(STORE_KINDS)('extensions (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
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
    const after = (await h.core.grant(grant.id))!;
    expect(after.expiresAt).toBe(grant.expiresAt! + 2 * H);
    expect(after.nextAttemptAt).toBe(after.expiresAt);
    expect((await h.core.lifecycle.toSync()).map((g) => g.id)).toEqual([grant.id]);
    expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(1);
  });

  it('approves an extension at once when an autoApprove rule would have approved the whole grant', async () => {
    const auto = h.withConfig(
      BASE_CONFIG.replace(
        '    approvers: { users: [UA1, UA2, UA3] }\n',
        '    approvers: { users: [UA1, UA2, UA3] }\n    autoApprove: [{ users: [UREQ], maxDuration: 1h }]\n',
      ),
    );
    const started = await auto.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '30m',
      justification: JUST,
    });
    expect(started).toMatchObject({ status: 'approved', autoApproved: true });
    const grant = (await auto.grantOf(started))!;
    const now = h.clock.now();
    await auto.lifecycle.activated(grant.id, {
      startsAt: now,
      expiresAt: now + 30 * 60_000,
      state: undefined,
      elapsedMs: 5,
    });
    const ask = (duration: string, actor = 'UREQ') =>
      auto.requestExtension({ grantId: grant.id, actor, duration, justification: JUST });

    const within = await ask('30m');
    expect(within).toMatchObject({ kind: 'extension', status: 'approved', autoApproved: true });
    expect((await auto.grant(grant.id))!.expiresAt).toBe(now + H);
    const [approved] = await h.sql.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'request.approved' AND request_id = ?",
      within.id,
    );
    expect(JSON.parse(approved!.details)).toMatchObject({
      auto: true,
      kind: 'extension',
      by: 'autoApprove',
      autoApproveRule: 0,
    });
    // The whole grant would now run past the rule's hour: the approvers decide.
    expect(await ask('5m')).toMatchObject({ status: 'pending', autoApproved: false });
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
    await expect(ask('UOTHER')).rejects.toThrow(
      `The grant on Two-person rule (${grant.id}) is not yours to extend; only its holder can ask for more time.`,
    );
    await ask('UREQ');
    await expect(ask('UREQ')).rejects.toThrow(/already waiting for approval/);
    await h.core.revokeGrant({ grantId: grant.id, actor: 'UREQ' });
    await expect(ask('UREQ')).rejects.toThrow(
      `Your grant on Two-person rule (${grant.id}) is ending; only active access can be extended.`,
    );
  });
});
