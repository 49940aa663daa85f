import { DomainError } from '../../src/core';
import { GENESIS_HASH } from '../../src/core/audit';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const JUST = 'investigating INC-42 slow queries';

async function auditActions(h: CoreHarness): Promise<string[]> {
  return (await h.sql.all<{ action: string }>('SELECT action FROM audit_events ORDER BY seq')).map(
    (r) => r.action,
  );
}

function grantCount(h: CoreHarness): Promise<number> {
  return h.sql.value<number>('SELECT count(*) FROM grants');
}

describe.each(STORE_KINDS)('deciding a request (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(() => h.close());

  const file = (resourceId = 'prod-db', requester = 'UREQ') =>
    h.core.createRequest({ requester, resourceId, duration: '1h', justification: JUST });

  it('approves on the quorum and creates one grant in activating', async () => {
    const req = await file();
    const outcome = await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.kind).toBe('recorded');
    expect(outcome.request).toMatchObject({
      status: 'approved',
      decidedBy: 'ULEAD',
      autoApproved: false,
    });
    expect(await auditActions(h)).toEqual([
      'request.created',
      'approval.recorded',
      'request.approved',
      'grant.created',
    ]);
    const grants = await h.sql.all('SELECT * FROM grants');
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({
      status: 'activating',
      user_id: 'UREQ',
      resource_id: 'prod-db',
      provider: 'hook',
      starts_at: null,
      expires_at: null,
    });
  });

  it('accepts an approver who is in a listed user group', async () => {
    const req = await file();
    const outcome = await h.core.decide({ requestId: req.id, actor: 'UDBA', decision: 'approve' });
    expect(outcome.request.status).toBe('approved');
  });

  it('refuses someone outside the approver set and changes nothing', async () => {
    const req = await file();
    const before = await auditActions(h);
    await expect(
      h.core.decide({ requestId: req.id, actor: 'URANDOM', decision: 'approve' }),
    ).rejects.toThrow(
      'You are not an approver for Production database (prod-db), so your click changed nothing.',
    );
    expect(await auditActions(h)).toEqual(before);
  });

  it('never lets a requester approve their own request, even when they are an approver', async () => {
    const req = await file('prod-db', 'ULEAD');
    const err = await h.core
      .decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' })
      .catch((e: DomainError) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('self_approval');
    expect(await grantCount(h)).toBe(0);
  });

  it('lets a requester approve their own request where the policy allows it, and records that', async () => {
    const req = await file('self-ok');
    const outcome = await h.core.decide({ requestId: req.id, actor: 'UREQ', decision: 'approve' });
    expect(outcome.request.status).toBe('approved');
    const details = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE action = 'approval.recorded'",
    );
    expect(JSON.parse(details)).toMatchObject({ selfApproval: true });
    expect(outcome.request.selfApproved).toBe(true);
    expect((await h.store.requests.byId(req.id))?.selfApproved).toBe(true);
  });

  it("marks a request self-approved only by the requester's own approval", async () => {
    const req = await file('quorum');
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    const outcome = await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(outcome.request.status).toBe('approved');
    expect((await h.store.requests.byId(req.id))?.selfApproved).toBe(false);
  });

  it('ends the request on one deny, keeping the reason', async () => {
    const req = await file('quorum');
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    const outcome = await h.core.decide({
      requestId: req.id,
      actor: 'UA2',
      decision: 'deny',
      reason: '  not during the freeze ',
    });
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'UA2',
      decisionReason: 'not during the freeze',
    });
    const late = await h.core.decide({ requestId: req.id, actor: 'UA3', decision: 'approve' });
    expect(late.kind).toBe('already_decided');
    expect(late.request.status).toBe('denied');
    expect(await grantCount(h)).toBe(0);
  });

  it('treats a repeated click as a duplicate without a second audit event', async () => {
    const req = await file('quorum');
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    const again = await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect(again.kind).toBe('duplicate');
    expect(again.request.status).toBe('pending');
    expect((await auditActions(h)).filter((a) => a === 'approval.recorded')).toHaveLength(1);
  });

  it('needs distinct approvers for a quorum of two', async () => {
    const req = await file('quorum');
    const first = await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect(first.request.status).toBe('pending');
    const second = await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(second.request.status).toBe('approved');
    expect(await grantCount(h)).toBe(1);
  });

  it('ends with exactly one outcome when every approver clicks at once', async () => {
    const req = await file('quorum');
    const clicks = ['UA1', 'UA2', 'UA3', 'UA1', 'UA2', 'UA3'].map((actor) =>
      h.core.decide({ requestId: req.id, actor, decision: 'approve' }),
    );
    const outcomes = await Promise.all(clicks);
    expect(outcomes.filter((o) => o.kind === 'recorded')).toHaveLength(2);
    expect(await grantCount(h)).toBe(1);
    expect((await auditActions(h)).filter((a) => a === 'request.approved')).toHaveLength(1);
  });

  it('ends with one outcome when two processes decide on the same database', async () => {
    const other = await h.another();
    for (let i = 0; i < 20; i++) {
      // A requester each: one person may file only so many requests in a while.
      const req = await file('quorum', `UREQ${i}`);
      await Promise.all([
        h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' }),
        other.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' }),
        other.decide({ requestId: req.id, actor: 'UA3', decision: 'deny' }),
        h.core.decide({ requestId: req.id, actor: 'UA3', decision: 'approve' }),
      ]);
      const status = await h.sql.value('SELECT status FROM requests WHERE id = ?', req.id);
      const grants = await h.sql.value('SELECT count(*) FROM grants WHERE request_id = ?', req.id);
      expect(grants).toBe(status === 'approved' ? 1 : 0);
      const terminal = await h.sql.value(
        "SELECT count(*) FROM audit_events WHERE request_id = ? AND action IN ('request.approved', 'request.denied')",
        req.id,
      );
      expect(terminal).toBe(1);
    }
    expect((await h.store.verifyChain({ seq: 0, hash: GENESIS_HASH })).intact).toBe(true);
  });

  it('refuses an unknown request id', async () => {
    await expect(
      h.core.decide({ requestId: 'req_missing', actor: 'ULEAD', decision: 'approve' }),
    ).rejects.toThrow('No request req_missing.');
  });
});
