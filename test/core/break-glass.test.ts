import { DomainError, explanationLines } from '../../src/core';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { PEOPLE_CONFIG } from '../support/people';
import { STORE_KINDS } from '../support/stores';

const HOUR = 3_600_000;
const WHY = 'primary is down, INC-911 failover';

const GROUPS = { SDBA: ['UDBA'], SSRE: ['USRE'] };

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe.each(STORE_KINDS)('break-glass (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(PEOPLE_CONFIG, GROUPS, kind)));
  afterEach(() => h.close());

  const use = (over: Record<string, unknown> = {}) =>
    h.core.breakGlass({
      requester: 'UONCALL',
      resourceId: 'prod-db',
      duration: '45m',
      justification: WHY,
      ...over,
    });

  it('grants at once in one change: the use, its grant, its audit trail and the alerts', async () => {
    const { request, use: row } = await use();
    expect(request).toMatchObject({
      status: 'approved',
      decidedBy: 'UONCALL',
      autoApproved: false,
      approvalsRequired: 0,
      durationMs: 45 * 60_000,
    });
    expect(row).toMatchObject({
      requestId: request.id,
      userId: 'UONCALL',
      resourceId: 'prod-db',
      usedAt: T0,
      reviewDueAt: T0 + 24 * HOUR,
      reviewedAt: null,
      verdict: null,
    });
    expect(await h.sql.all('SELECT status, user_id FROM grants')).toEqual([
      { status: 'activating', user_id: 'UONCALL' },
    ]);
    const audit = await h.sql.all<{ action: string; actor: string; details: string }>(
      'SELECT action, actor, details FROM audit_events ORDER BY seq',
    );
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['breakglass.used', 'UONCALL'],
      ['request.approved', 'UONCALL'],
      ['grant.created', 'hallpass'],
    ]);
    expect(JSON.parse(audit[0]!.details)).toMatchObject({
      justification: WHY,
      reviewDueAt: T0 + 24 * HOUR,
    });
    expect(JSON.parse(audit[1]!.details)).toMatchObject({ breakGlass: true });
    const outbox = await h.sql.all<{ topic: string; payload: string }>(
      'SELECT topic, payload FROM outbox ORDER BY id',
    );
    expect(outbox.map((o) => o.topic).sort()).toEqual([
      'approver_message',
      'breakglass_alert',
      'requester_dm',
    ]);
    const dm = JSON.parse(outbox.find((o) => o.topic === 'requester_dm')!.payload);
    expect(dm).toMatchObject({ event: 'breakglass.granted', userId: 'UONCALL' });
    const alert = JSON.parse(outbox.find((o) => o.topic === 'breakglass_alert')!.payload);
    expect(alert).toEqual({
      topic: 'breakglass_alert',
      requestId: request.id,
      admins: ['UADMIN', 'UADMIN2'],
      event: 'used',
    });
    expect((await h.core.audit.verifyAll([])).report.intact).toBe(true);
  });

  it('lets members of the named user groups break the glass, and no one else', async () => {
    await expect(use({ requester: 'USRE' })).resolves.toBeDefined();
    const before = await h.sql.value<number>('SELECT count(*) FROM audit_events');
    const stranger = await refusal(use({ requester: 'ULEAD' }));
    expect(stranger.code).toBe('not_allowed');
    expect(stranger.message).toBe(
      'You may not break the glass on prod-db; ask for it with `/jit request prod-db`.',
    );
    const none = await refusal(use({ resourceId: 'plain', duration: '30m' }));
    expect(none.message).toBe(
      'plain has no break-glass access; ask for it with `/jit request plain`.',
    );
    expect(await h.sql.value<number>('SELECT count(*) FROM audit_events')).toBe(before);
    expect(await h.sql.value<number>('SELECT count(*) FROM break_glass_uses')).toBe(1);
  });

  it('holds to its own longest duration, and to a given ticket matching the pattern', async () => {
    const long = await refusal(use({ duration: '2h' }));
    expect(long).toMatchObject({ code: 'bad_duration', field: 'duration' });
    expect(long.message).toBe(
      'Break-glass on prod-db lasts at most 1h. Ask for that or less; for longer, `/jit request prod-db` goes to the approvers.',
    );
    const ticket = await refusal(use({ ticket: 'nope' }));
    expect(ticket).toMatchObject({ code: 'bad_ticket' });
    // The resource requires a ticket for requests; an emergency may come before it.
    await expect(use()).resolves.toBeDefined();
    await expect(use({ ticket: 'INC-911' })).resolves.toBeDefined();
  });

  it('is not held up by a request waiting for approval, and files once per client key', async () => {
    await h.core.createRequest({
      requester: 'UONCALL',
      resourceId: 'billing',
      duration: '1h',
      justification: WHY,
    });
    const first = await use({ clientKey: 'command:1' });
    const again = await use({ clientKey: 'command:1' });
    expect(again.request.id).toBe(first.request.id);
    expect(await h.sql.value<number>('SELECT count(*) FROM break_glass_uses')).toBe(1);
    expect(await h.sql.value<number>('SELECT count(*) FROM grants')).toBe(1);
  });

  it('answers a retry with the use it repeats after the bounds were lowered, and judges a new use by them', async () => {
    const first = await use({ clientKey: 'command:2' });
    // An admin shortens prod-db's break-glass and its longest grant while the retry is on its way.
    const lowered = h.withConfig(
      PEOPLE_CONFIG.replace(
        'breakGlass: { users: [UONCALL], usergroups: [SSRE], maxDuration: 1h }',
        'breakGlass: { users: [UONCALL], usergroups: [SSRE], maxDuration: 30m }',
      ).replace('maxDuration: 4h', 'maxDuration: 40m'),
    );
    const retry = (over: Record<string, unknown>) =>
      lowered.breakGlass({
        requester: 'UONCALL',
        resourceId: 'prod-db',
        duration: '45m',
        justification: WHY,
        ...over,
      });
    const again = await retry({ clientKey: 'command:2' });
    expect(again.request.id).toBe(first.request.id);
    expect(again.use.grantId).toBe(first.use.grantId);
    const fresh = await refusal(retry({ clientKey: 'command:3' }));
    expect(fresh).toMatchObject({ code: 'bad_duration', field: 'duration' });
    expect(await h.sql.value<number>('SELECT count(*) FROM break_glass_uses')).toBe(1);
  });

  it('refuses a start: break-glass only ever starts at once', async () => {
    const refused = await refusal(use({ startAt: '23:30' }));
    expect(refused).toMatchObject({ code: 'bad_start', field: 'start' });
    expect(await h.sql.value<number>('SELECT count(*) FROM grants')).toBe(0);
  });

  it('refuses a client key someone else filed with, rather than answer with their use', async () => {
    await use({ clientKey: 'api:shared-key' });
    const refused = await refusal(use({ requester: 'USRE', clientKey: 'api:shared-key' }));
    expect(refused.code).toBe('not_yours');
    expect(refused.message).toContain('already used by another requester');
    expect(await h.sql.value<number>('SELECT count(*) FROM break_glass_uses')).toBe(1);
  });

  it('is reviewed by an approver of the resource, never by the person who used it', async () => {
    const { request } = await use();
    const review = (actor: string, verdict: 'reviewed' | 'flagged', note?: string) =>
      h.core.reviewBreakGlass({ requestId: request.id, actor, verdict, note });

    const stranger = await refusal(review('URANDOM', 'reviewed'));
    expect(stranger.code).toBe('not_approver');
    // UONCALL approves prod-db requests, but used the glass: someone else reviews.
    const self = await refusal(review('UONCALL', 'reviewed'));
    expect(self.code).toBe('self_review');
    expect(self.message).toBe(
      'You broke the glass yourself, so another approver of prod-db has to review it.',
    );
    const bare = await refusal(review('ULEAD', 'flagged', '   '));
    expect(bare.code).toBe('bad_note');
    const reviews =
      "SELECT count(*) FROM audit_events WHERE action IN ('breakglass.reviewed', 'breakglass.flagged')";
    expect(await h.sql.value<number>(reviews)).toBe(0);

    h.clock.advance(HOUR);
    const flagged = await review('UDBA', 'flagged', 'no incident was open at that time');
    expect(flagged).toMatchObject({
      kind: 'recorded',
      use: { verdict: 'flagged', reviewedBy: 'UDBA', reviewedAt: T0 + HOUR },
    });
    const late = await review('ULEAD', 'reviewed');
    expect(late.kind).toBe('already_reviewed');
    expect(late.use).toMatchObject({ verdict: 'flagged', reviewedBy: 'UDBA' });

    const audit = await h.sql.all<{ action: string; actor: string; details: string }>(
      "SELECT action, actor, details FROM audit_events WHERE action = 'breakglass.flagged'",
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('UDBA');
    expect(JSON.parse(audit[0]!.details)).toMatchObject({
      note: 'no incident was open at that time',
      usedBy: 'UONCALL',
    });
    const alerts = await h.sql.all<{ payload: string }>(
      "SELECT payload FROM outbox WHERE topic = 'breakglass_alert' ORDER BY id",
    );
    expect(alerts.map((a) => JSON.parse(a.payload).event)).toEqual(['used', 'flagged']);

    // `hallpass audit show` tells it in words.
    const story = await h.core.audit.story(flagged.use.grantId);
    expect(story?.lines.map((l) => l.text)).toEqual([
      `UONCALL broke the glass on prod-db for 45m: "${WHY}"; review due ${new Date(T0 + 24 * HOUR).toISOString()}`,
      "approved by UONCALL's break-glass, without an approver",
      'grant created for provider hook, 45m',
      'UDBA FLAGGED the break-glass use: "no incident was open at that time"',
    ]);
  });

  it('is not reviewed by an approver whose offboarding is recorded, whatever the directory says', async () => {
    const { request } = await use();
    await h.core.recordPersonStatus('ULEAD', 'guest', 'slack_event');
    const gone = await refusal(
      h.core.reviewBreakGlass({ requestId: request.id, actor: 'ULEAD', verdict: 'reviewed' }),
    );
    expect(gone.code).toBe('not_approver');
    expect(
      await h.sql.value(
        'SELECT reviewed_by FROM break_glass_uses WHERE request_id = ?',
        request.id,
      ),
    ).toBeNull();
  });

  it('chases an unreviewed use once after reviewWithin, whichever process runs the job', async () => {
    const { request } = await use({ resourceId: 'billing', duration: '30m' });
    const reviewed = await use({ resourceId: 'billing', duration: '30m', requester: 'UONCALL' });
    await h.core.reviewBreakGlass({
      requestId: reviewed.request.id,
      actor: 'ULEAD',
      verdict: 'reviewed',
    });
    expect(await h.core.nextFollowUpAt()).toBe(T0 + 2 * HOUR);

    h.clock.advance(2 * HOUR - 1);
    expect(await h.core.sendDueFollowUps()).toEqual({
      reminded: 0,
      escalated: 0,
      overdueReviews: 0,
    });
    h.clock.advance(1);
    expect((await h.core.sendDueFollowUps()).overdueReviews).toBe(1);
    // A restarted process, or a second one on the same database, finds it sent.
    const other = await h.another();
    expect((await other.sendDueFollowUps()).overdueReviews).toBe(0);
    expect(await h.core.nextFollowUpAt()).toBeNull();

    expect(await h.sql.all('SELECT request_id, step FROM follow_ups')).toEqual([
      { request_id: request.id, step: 'review_overdue' },
    ]);
    const chased = await h.sql.all<{ actor: string; request_id: string }>(
      "SELECT actor, request_id FROM audit_events WHERE action = 'breakglass.review_overdue'",
    );
    expect(chased).toEqual([{ actor: 'hallpass', request_id: request.id }]);
    const topics = await h.sql.all(
      "SELECT topic, subject FROM outbox WHERE topic = 'review_overdue'",
    );
    expect(topics).toEqual([{ topic: 'review_overdue', subject: `request:${request.id}` }]);

    // A late review is still taken, and says it was late.
    h.clock.advance(60_000);
    await h.core.reviewBreakGlass({ requestId: request.id, actor: 'ULEAD', verdict: 'reviewed' });
    const details = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE action = 'breakglass.reviewed' AND request_id = ?",
      request.id,
    );
    expect(JSON.parse(details)).toMatchObject({ late: true });
  });

  it('shows in the digest with its review, and is no decision time of the approvers', async () => {
    const flagged = await use();
    h.clock.advance(60_000);
    const open = await use({ resourceId: 'billing', duration: '30m' });
    await h.core.reviewBreakGlass({
      requestId: flagged.request.id,
      actor: 'ULEAD',
      verdict: 'flagged',
      note: 'outside the incident window',
    });
    h.clock.advance(3 * HOUR);
    const digest = await h.core.digest();
    expect(digest.breakGlass.total).toBe(2);
    expect(digest.breakGlass.items.map((u) => [u.requestId, u.verdict])).toEqual([
      [flagged.request.id, 'flagged'],
      [open.request.id, null],
    ]);
    expect(digest.decisionTime).toBeNull();
    expect(digest.requests.approved).toBe(2);
  });

  it('is told by explain to the people it names, now and as recorded then, and to nobody else', async () => {
    const said = async (person: string, asOf?: number) =>
      explanationLines(await h.core.explain(person, 'prod-db', asOf)).join('\n');
    expect(await said('UONCALL')).toContain(
      '*Break-glass:* you may take up to 1h at once, without approval, in an emergency (`/jit breakglass prod-db <duration> <why…>`); every use is audited and must be reviewed by another approver within 1d',
    );
    expect(await said('USRE')).toContain('*Break-glass:* you may take up to 1h');
    expect(await said('UDBA')).not.toContain('Break-glass');
    await use();
    h.clock.advance(HOUR);
    // Who was in a user group then is not recorded: only people listed by name are told.
    expect(await said('UONCALL', T0 + 1)).toContain('*Break-glass:*');
    expect(await said('USRE', T0 + 1)).not.toContain('Break-glass');
  });
});
