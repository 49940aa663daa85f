import { DomainError } from '../../src/core';
import { StaticDirectory, type PersonStatus } from '../../src/core/directory';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

/**
 * Issue #9, item 7 in the core: someone deactivated (or made a guest) in Slack loses every live
 * grant, their pending requests are cancelled, their approver channels are told once each, and
 * from then on they can neither file nor be approved into a grant.
 */

const JUST = 'investigating INC-42 slow queries';
const RETRY = { retryBase: 5_000, retryMax: 600_000, alertAfterAttempts: 5 };

async function auditOf(h: CoreHarness, action: string) {
  const rows = await h.sql.all<{ actor: string; details: string }>(
    'SELECT actor, details FROM audit_events WHERE action = ? ORDER BY seq',
    action,
  );
  return rows.map((r) => ({ actor: r.actor, details: JSON.parse(r.details) as unknown }));
}

/** Every row a change can write, to show that saying something twice writes nothing. */
async function everything(h: CoreHarness) {
  const all = (table: string, order: string) =>
    h.sql.all(`SELECT * FROM ${table} ORDER BY ${order}`);
  return {
    requests: await all('requests', 'id'),
    grants: await all('grants', 'id'),
    audit: await all('audit_events', 'seq'),
    outbox: await all('outbox', 'id'),
  };
}

/** A directory whose fresh answers wait until the test releases them. */
class GatedDirectory extends StaticDirectory {
  release!: (status: PersonStatus) => void;
  asked!: Promise<void>;
  private markAsked!: () => void;
  constructor() {
    super({ SDBA: ['UDBA'], SENG: ['UENG'] });
    this.asked = new Promise((r) => (this.markAsked = r));
  }
  override async statusOf(userId: string, options?: { fresh?: boolean }): Promise<PersonStatus> {
    if (!options?.fresh) return super.statusOf(userId);
    this.markAsked();
    return new Promise((resolve) => (this.release = resolve));
  }
}

describe.each(STORE_KINDS)('offboarding in the core (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(() => h.close());

  const file = (resourceId: string, requester = 'UREQ') =>
    h.core.createRequest({ requester, resourceId, duration: '1h', justification: JUST });

  /** A grant of `resourceId` to `requester`, approved and (unless `activating`) active. */
  async function grantOf(resourceId: string, approver: string, requester = 'UREQ') {
    const req = await file(resourceId, requester);
    if (req.status === 'pending')
      await h.core.decide({ requestId: req.id, actor: approver, decision: 'approve' });
    return (await h.store.grants.byRequest(req.id))!;
  }
  async function activate(grantId: string) {
    const now = h.clock.now();
    await h.core.lifecycle.activated(grantId, {
      startsAt: now,
      expiresAt: now + 3_600_000,
      state: undefined,
      elapsedMs: 1,
    });
  }

  /**
   * UREQ holds an active grant of prod-db (approvers in CDBA), an activating grant of `auto`
   * whose grant call timed out (fenced for a minute, CAPPROVALS), and waits on a `quorum`
   * request (CAPPROVALS). UENG holds a grant of their own that must stay untouched.
   */
  async function world() {
    const active = await grantOf('prod-db', 'ULEAD');
    await activate(active.id);
    const fenced = await grantOf('auto', '');
    const fenceUntil = h.clock.now() + 60_000;
    await h.core.lifecycle.failed(fenced.id, 'grant', 'timed out after 30s', RETRY, {
      fenceUntil,
    });
    const pending = await file('quorum');
    const bystander = await grantOf('prod-db', 'ULEAD', 'UENG');
    await activate(bystander.id);
    h.clock.advance(5_000);
    return { active, fenced, fenceUntil, pending, bystander };
  }

  it.each([
    ['deactivated', 'they were deactivated in Slack'],
    ['guest', 'they became a guest in Slack'],
  ] as const)(
    'takes away everything of someone now %s in Slack, in one change',
    async (status, why) => {
      const w = await world();
      const now = h.clock.now();
      const outboxBefore = await h.sql.value<number>('SELECT max(id) FROM outbox');

      const result = await h.core.recordPersonStatus('UREQ', status, 'slack_event');
      expect(result).toEqual({
        grants: expect.arrayContaining([w.active.id, w.fenced.id]),
        requests: [w.pending.id],
      });
      expect(result!.grants).toHaveLength(2);

      const grants = await h.sql.all<Record<string, unknown>>(
        'SELECT id, status, end_reason, ended_by, end_note, next_attempt_at, attempts FROM grants ORDER BY id',
      );
      const byId = new Map(grants.map((g) => [g.id, g]));
      expect(byId.get(w.active.id)).toMatchObject({
        status: 'revoking',
        end_reason: 'offboarded',
        ended_by: 'hallpass',
        end_note: why,
        next_attempt_at: now,
        attempts: 0,
      });
      // The grant call that timed out may still land: its revoke waits out the recorded fence.
      expect(byId.get(w.fenced.id)).toMatchObject({
        status: 'revoking',
        end_reason: 'offboarded',
        next_attempt_at: w.fenceUntil,
        attempts: 0,
      });
      expect(byId.get(w.bystander.id)).toMatchObject({ status: 'active', end_reason: null });

      expect(await h.core.request(w.pending.id)).toMatchObject({
        status: 'cancelled',
        decidedBy: 'hallpass',
        decisionReason: `the requester left: ${why}`,
      });

      const offboarded = await auditOf(h, 'user.offboarded');
      expect(offboarded).toEqual([
        {
          actor: 'hallpass',
          details: {
            userId: 'UREQ',
            status,
            source: 'slack_event',
            grants: expect.arrayContaining([w.active.id, w.fenced.id]),
            requests: [w.pending.id],
          },
        },
      ]);
      expect((await auditOf(h, 'grant.revoke_requested')).map((e) => e.details)).toEqual([
        expect.objectContaining({ reason: 'offboarded', note: why, source: 'slack_event' }),
        expect.objectContaining({ reason: 'offboarded', note: why, source: 'slack_event' }),
      ]);
      expect((await auditOf(h, 'request.cancelled')).map((e) => e.details)).toEqual([
        { reason: 'offboarded', source: 'slack_event' },
      ]);

      // One message per approver channel concerned, each naming everything.
      const rows = await h.sql.all<{ payload: string }>(
        "SELECT payload FROM outbox WHERE topic = 'offboarded' AND id > ? ORDER BY id",
        outboxBefore,
      );
      const told = rows.map((r) => JSON.parse(r.payload) as Record<string, unknown>);
      expect(told.map((n) => n.channel).sort()).toEqual(['CAPPROVALS', 'CDBA']);
      for (const n of told) {
        expect(n).toEqual({
          topic: 'offboarded',
          userId: 'UREQ',
          channel: n.channel,
          status,
          grants: expect.arrayContaining([w.active.id, w.fenced.id]),
          requests: [w.pending.id],
        });
      }
      expect(
        await h.sql.get('SELECT state, changed_at FROM people WHERE user_id = ?', 'UREQ'),
      ).toEqual({ state: status, changed_at: now });
    },
  );

  it('changes nothing when told the same thing twice', async () => {
    await world();
    const then = h.clock.now();
    await h.core.recordPersonStatus('UREQ', 'deactivated', 'slack_event');
    const before = await everything(h);
    h.clock.advance(60_000);

    expect(await h.core.recordPersonStatus('UREQ', 'deactivated', 'directory_check')).toBe(
      undefined,
    );
    expect(await everything(h)).toEqual(before);
    // The check itself is recorded on the person, not as a change.
    expect(
      await h.sql.get('SELECT state, changed_at, checked_at FROM people WHERE user_id = ?', 'UREQ'),
    ).toEqual({ state: 'deactivated', changed_at: then, checked_at: h.clock.now() });
  });

  it('does nothing for someone active who never left', async () => {
    await world();
    const before = await everything(h);
    expect(await h.core.recordPersonStatus('UREQ', 'active', 'directory_check')).toBe(undefined);
    expect(await everything(h)).toEqual(before);
  });

  it('refuses to file for someone recorded as gone, and accepts them again once active', async () => {
    await h.core.recordPersonStatus('UREQ', 'deactivated', 'slack_event');
    const before = await everything(h);
    const err = await file('prod-db').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('deactivated');
    expect((err as DomainError).message).toBe(
      'UREQ is deactivated in Slack, so Hallpass accepts no requests from them.',
    );
    expect(await everything(h)).toEqual(before);

    await h.core.recordPersonStatus('UREQ', 'guest', 'directory_check');
    await expect(file('prod-db')).rejects.toThrow(
      'UREQ is a guest in Slack, so Hallpass accepts no requests from them.',
    );

    await h.core.recordPersonStatus('UREQ', 'active', 'slack_event');
    await expect(file('prod-db')).resolves.toMatchObject({ status: 'pending' });
  });

  it('records someone as back only once the directory, asked afresh, agrees', async () => {
    await h.core.recordPersonStatus('UREQ', 'deactivated', 'slack_event');
    const stillGone = h.withConfig(
      BASE_CONFIG,
      new StaticDirectory({ SDBA: ['UDBA'] }, {}, { UREQ: 'deactivated' }),
    );
    // A late delivery of an older profile edit says active; the directory says otherwise.
    expect(await stillGone.recordPersonStatus('UREQ', 'active', 'slack_event')).toBe(undefined);
    expect(await h.sql.value('SELECT state FROM people WHERE user_id = ?', 'UREQ')).toBe(
      'deactivated',
    );
    await h.core.recordPersonStatus('UREQ', 'active', 'slack_event');
    expect(await h.sql.value('SELECT state FROM people WHERE user_id = ?', 'UREQ')).toBe('active');
  });

  it('does not let a return the directory confirmed overwrite a deactivation recorded meanwhile', async () => {
    const state = () => h.sql.value('SELECT state FROM people WHERE user_id = ?', 'UREQ');
    // UREQ was deactivated, then an admin reactivated them: Slack sends user_change (active).
    await h.core.recordPersonStatus('UREQ', 'deactivated', 'slack_event');
    h.clock.advance(60_000);
    const gated = new GatedDirectory();
    const back = h.withConfig(BASE_CONFIG, gated);
    const returning = back.recordPersonStatus('UREQ', 'active', 'slack_event');
    await gated.asked;
    // users.info answers "active" (true when Slack answered), but the answer is slow to land:
    // meanwhile UREQ is deactivated again, and that event is recorded at once.
    h.clock.advance(1_000);
    await h.core.recordPersonStatus('UREQ', 'deactivated', 'slack_event');
    expect(await state()).toBe('deactivated');
    gated.release('active');
    await returning;
    // The last thing Slack said is that UREQ left; the record must still say so.
    expect(await state()).toBe('deactivated');
  });

  it('refuses to file for someone the directory says is deactivated, before anything is recorded', async () => {
    const core = h.withConfig(
      BASE_CONFIG,
      new StaticDirectory({ SDBA: ['UDBA'] }, {}, { UREQ: 'deactivated' }),
    );
    const err = await core
      .createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      })
      .catch((e: unknown) => e);
    expect((err as DomainError).code).toBe('deactivated');
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
  });

  it('denies at approval a pending request of a person recorded as gone', async () => {
    const req = await file('quorum');
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    // Recorded as gone by another path (an older process, a restore) while the request waited.
    await h.sql.run(
      'INSERT INTO people (user_id, state, changed_at, checked_at) VALUES (?, ?, ?, ?)',
      'UREQ',
      'deactivated',
      h.clock.now(),
      h.clock.now(),
    );
    const outcome = await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: 'policy changed: UREQ left the workspace',
    });
    expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(0);
    expect((await auditOf(h, 'request.denied'))[0]).toEqual({
      actor: 'hallpass',
      details: { reason: 'policy changed: UREQ left the workspace', policy: true },
    });
  });

  it('denies at approval a pending request of someone the directory now says is a guest', async () => {
    const req = await file('prod-db');
    const core = h.withConfig(
      BASE_CONFIG,
      new StaticDirectory({ SDBA: ['UDBA'] }, {}, { UREQ: 'guest' }),
    );
    const outcome = await core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: 'policy changed: UREQ is a guest in Slack',
    });
    expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(0);
  });

  it('refuses a decision by an approver recorded as gone, the directory answering or not', async () => {
    const req = await file('prod-db');
    await h.core.recordPersonStatus('ULEAD', 'guest', 'slack_event');
    const before = await everything(h);
    await expect(
      h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' }),
    ).rejects.toMatchObject({ code: 'not_approver' });
    expect(await everything(h)).toEqual(before);
  });

  it('refuses a decision by an approver the directory says is deactivated', async () => {
    const req = await file('prod-db');
    const core = h.withConfig(
      BASE_CONFIG,
      new StaticDirectory({ SDBA: ['UDBA'] }, {}, { ULEAD: 'deactivated' }),
    );
    await expect(
      core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'deny' }),
    ).rejects.toBeInstanceOf(DomainError);
    expect((await h.core.request(req.id))!.status).toBe('pending');
  });

  it('no longer counts the approval of someone deactivated since toward a quorum', async () => {
    const req = await file('quorum');
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await h.core.recordPersonStatus('UA1', 'deactivated', 'slack_event');
    const outcome = await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(outcome.request.status).toBe('pending');
    await h.core.decide({ requestId: req.id, actor: 'UA3', decision: 'approve' });
    expect((await h.core.request(req.id))!.status).toBe('approved');
  });
});
