import { explanationLines, TAKE_AHEAD_MS, type Core } from '../../src/core';
import { DomainError } from '../../src/core/errors';
import { OnCallUnavailable, type OnCall } from '../../src/core/oncall';
import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS, type StoreKind } from '../support/stores';

const JUST = 'checking the payment retries';
const HOUR = 3_600_000;
/** Monday 2 Nov 2026, 09:00 UTC = 10:00 in Berlin (CET). */
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const cet = (day: number, h: number, m = 0) => Date.UTC(2026, 10, day, h - 1, m);

const CONFIG = `
timezone: Europe/Berlin
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS, pendingTimeout: 24h }
oncall:
  payments: { type: webhook, url: 'http://127.0.0.1:9/oncall' }
windows:
  evenings: { days: [1, 2, 3, 4, 5], start: '18:00', end: '23:00' }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: payments-db
    name: Payments database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD], oncall: [payments] }
    autoApprove:
      - oncall: [payments]
        maxDuration: 1h
  - id: office
    name: Office tools
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD, USELF] }
    allowSelfApproval: true
    requestWindow: businessHours
    autoApprove:
      - usergroups: [SENG]
        window: evenings
  - id: responders
    name: Responder console
    provider: hook
    maxDuration: 1h
    requesters: { oncall: [payments] }
    approvers: { users: [ULEAD] }
  - id: payments-primary
    name: Payments primary
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    breakGlass: { oncall: [payments], maxDuration: 1h }
`;

/** An on-call source the test controls: who is on call, or that it cannot answer. */
class TestOnCall implements OnCall {
  now: string[] = ['UONC'];
  down = false;
  async onCallNow(source: string): Promise<readonly string[]> {
    if (this.down) throw new OnCallUnavailable(source, 'the test took it down');
    return this.now;
  }
}

function file(
  core: Core,
  requester: string,
  resourceId: string,
  duration: string,
  startAt?: string,
) {
  return core.createRequest({ requester, resourceId, duration, justification: JUST, startAt });
}

async function refused(promise: Promise<unknown>): Promise<DomainError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

describe.each(STORE_KINDS)('on-call, windows and later starts (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  let oncall: TestOnCall;
  beforeEach(async () => {
    oncall = new TestOnCall();
    h = await coreHarness(CONFIG, { SENG: ['UENG'], SDBA: [] }, kind, oncall);
    h.clock.set(T0);
  });
  afterEach(() => h.close());

  it('approves at once a request of the on-call person within the rule, and records which rule', async () => {
    const req = await file(h.core, 'UONC', 'payments-db', '1h');
    expect(req).toMatchObject({ status: 'approved', autoApproved: true, approvalsRequired: 0 });
    const details = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE action = 'request.approved' AND request_id = ?",
      req.id,
    );
    expect(JSON.parse(details)).toMatchObject({ auto: true, autoApproveRule: 0 });
    expect(await h.core.grantOf(req)).toMatchObject({ status: 'activating', nextAttemptAt: T0 });
  });

  it('lets whoever is on call break the glass, nobody else, and nobody while the source cannot say', async () => {
    const glass = (requester: string) =>
      h.core.breakGlass({
        requester,
        resourceId: 'payments-primary',
        duration: '30m',
        justification: 'primary is down, INC-911 failover',
      });
    const { request } = await glass('UONC');
    expect(request).toMatchObject({ status: 'approved', decidedBy: 'UONC' });
    expect((await refused(glass('ULEAD'))).message).toBe(
      'You may not break the glass on payments-primary; ask for it with `/jit request payments-primary`.',
    );
    oncall.down = true;
    const unknown = await refused(glass('UONC'));
    expect(unknown.code).toBe('unavailable');
    expect(unknown.message).toContain("Hallpass can't verify your break-glass rights right now");
    expect(await h.sql.value('SELECT count(*) FROM break_glass_uses')).toBe(1);
  });

  it('sends everything else to an approver: too long, or not on call', async () => {
    expect(await file(h.core, 'UONC', 'payments-db', '2h')).toMatchObject({
      status: 'pending',
      approvalsRequired: 1,
    });
    expect(await file(h.core, 'UOTHER', 'payments-db', '30m')).toMatchObject({
      status: 'pending',
    });
  });

  it('fails closed when the on-call source cannot answer: no auto-approval, no on-call approver', async () => {
    const other = await file(h.core, 'UOTHER', 'payments-db', '30m');
    oncall.down = true;
    expect(await file(h.core, 'UONC', 'payments-db', '30m')).toMatchObject({ status: 'pending' });
    const err = await refused(
      h.core.decide({ requestId: other.id, actor: 'UONC', decision: 'approve' }),
    );
    expect(err.code).toBe('unavailable');
    expect(err.message).toContain('on-call source payments did not answer');
    const refusedToRequest = await refused(file(h.core, 'UONC', 'responders', '30m'));
    expect(refusedToRequest.code).toBe('unavailable');

    oncall.down = false;
    const decided = await h.core.decide({
      requestId: other.id,
      actor: 'UONC',
      decision: 'approve',
    });
    expect(decided.request.status).toBe('approved');
  });

  it('lets only the people on call request what is limited to them, and follows the rota', async () => {
    expect((await refused(file(h.core, 'UOTHER', 'responders', '30m'))).message).toBe(
      'You are not allowed to request responders (only whoever is on call for payments may). Ask in <#CAPPROVALS> if you think you should be.',
    );
    oncall.now = ['UOTHER'];
    expect(await file(h.core, 'UOTHER', 'responders', '30m')).toMatchObject({ status: 'pending' });
  });

  it('accepts a request limited to a window only for access starting inside it', async () => {
    h.clock.set(cet(7, 12)); // Saturday noon
    const err = await refused(file(h.core, 'UREQ', 'office', '1h'));
    expect(err).toMatchObject({ code: 'outside_window', field: 'start' });
    expect(err.message).toBe(
      'office can be requested only for access that starts within businessHours (Mon–Fri 08:00–18:00 (Europe/Berlin)). Ask for a start inside it (`from HH:MM`).',
    );
    // Monday 09:00 is inside: filed on Saturday, decided before, activated then.
    const req = await file(h.core, 'UREQ', 'office', '1h', '2026-11-09 09:00');
    expect(req).toMatchObject({ status: 'pending', startAt: cet(9, 9), pendingUntil: cet(8, 12) });
  });

  it('auto-approves in a window only when the access starts inside it', async () => {
    expect(await file(h.core, 'UENG', 'office', '1h')).toMatchObject({ status: 'pending' });
    // Business hours still take requests until 18:00; 17:30 starts outside the evening window.
    expect(await file(h.core, 'UENG', 'office', '30m', '17:30')).toMatchObject({
      status: 'pending',
    });
    h.clock.set(cet(2, 17, 50));
    const err = await refused(file(h.core, 'UENG', 'office', '30m', '18:30'));
    expect(err.code).toBe('outside_window');
  });

  it('decides a later start now and activates it then; undecided, it expires at its start', async () => {
    const decided = await file(h.core, 'UOTHER', 'payments-db', '1h', '14:00');
    expect(decided).toMatchObject({
      status: 'pending',
      startAt: cet(2, 14),
      pendingUntil: cet(2, 14),
    });
    await h.core.decide({ requestId: decided.id, actor: 'ULEAD', decision: 'approve' });
    const grant = (await h.core.grantOf(decided))!;
    expect(grant).toMatchObject({ status: 'activating', nextAttemptAt: cet(2, 14) });
    expect((await h.core.lifecycle.due(10)).map((g) => g.id)).not.toContain(grant.id);
    expect(await h.core.lifecycle.nextWakeAt(0)).toBe(cet(2, 14) - TAKE_AHEAD_MS);

    const undecided = await file(h.core, 'UOTHER', 'payments-db', '1h', '15:00');
    h.clock.set(cet(2, 14));
    expect((await h.core.lifecycle.due(10)).map((g) => g.id)).toContain(grant.id);
    expect(await h.core.expireStaleRequests()).toBe(0);
    h.clock.set(cet(2, 15));
    expect(await h.core.expireStaleRequests()).toBe(1);
    expect(await h.core.request(undecided.id)).toMatchObject({ status: 'expired' });
  });

  it('an auto-approved later start is approved now and still waits for its start', async () => {
    const req = await file(h.core, 'UONC', 'payments-db', '1h', '13:00');
    expect(req.status).toBe('approved');
    expect(await h.core.grantOf(req)).toMatchObject({
      status: 'activating',
      nextAttemptAt: cet(2, 13),
    });
  });

  it.each([
    ['09:00:00', /is not a start time/],
    ['2026-11-01 08:00', /has passed/],
    ['2026-11-20 08:00', /at most 7d ahead/],
  ])('refuses the start %p with a specific message and files nothing', async (startAt, message) => {
    const err = await refused(file(h.core, 'UOTHER', 'payments-db', '1h', startAt));
    expect(err).toMatchObject({ code: 'bad_start', field: 'start' });
    expect(err.message).toMatch(message);
    expect(await h.sql.value<number>('SELECT count(*) AS n FROM requests')).toBe(0);
  });

  describe('explain', () => {
    const text = async (person: string, resourceId: string, asOf?: number) =>
      explanationLines(await h.core.explain(person, resourceId, asOf)).join('\n');

    it('says who decides, resolved now, the quorum, bounds, ticket rule and which auto-approval applies', async () => {
      const e = await h.core.explain('UONC', 'payments-db');
      expect(e.refusal).toBeUndefined();
      expect(e.decides.resolved?.oncall).toEqual([{ name: 'payments', members: ['UONC'] }]);
      const out = await text('UONC', 'payments-db');
      expect(out).toContain(':white_check_mark: *May request it.*');
      expect(out).toContain(
        '*Who decides:* 1 approval from <@ULEAD> or whoever is on call for payments, in <#CAPPROVALS>',
      );
      expect(out).toContain('Now that is: <@ULEAD>; on call for payments: <@UONC>');
      expect(out).toContain(
        'You are an approver (on call for payments); you may not approve your own requests',
      );
      expect(out).toContain('*Duration:* 5m to 4h (default 1h), at most 4h in all with extensions');
      expect(out).toContain('*Ticket:* optional');
      expect(out).toContain(
        '1. requested by whoever is on call for payments, for at most 1h: applies to you now (for up to 1h)',
      );
      expect(await text('UOTHER', 'payments-db')).toContain(
        '1. requested by whoever is on call for payments, for at most 1h: does not apply: you are not one of whoever is on call for payments',
      );
    });

    it('names the rule that stops the person, with the message a request would get', async () => {
      for (const [person, resource, rule] of [['UOTHER', 'responders', 'requesters']] as const) {
        const e = await h.core.explain(person, resource);
        expect(e.refusal?.rule).toBe(rule);
        const filed = await refused(file(h.core, person, resource, '30m'));
        expect(filed.message).toBe(e.refusal?.message);
      }
      h.clock.set(cet(7, 12));
      const window = await h.core.explain('UREQ', 'office');
      expect(window.refusal?.rule).toBe('requestWindow');
      expect((await refused(file(h.core, 'UREQ', 'office', '30m'))).message).toBe(
        window.refusal?.message,
      );
      expect(await text('UREQ', 'office')).toContain(
        '*When:* access must start within businessHours (Mon–Fri 08:00–18:00 (Europe/Berlin)); closed now',
      );
      oncall.down = true;
      const unknown = await h.core.explain('UONC', 'responders');
      expect(unknown.refusal?.rule).toBe('unverifiable');
      expect(await text('UONC', 'payments-db')).toContain(
        'on call for payments: unknown (on-call source payments did not answer)',
      );
    });

    it('says when an approver may approve their own request', async () => {
      expect(await text('USELF', 'office')).toContain(
        'You are an approver (listed by name); you may approve your own requests',
      );
      expect(await text('UENG', 'office')).toContain('You are not an approver.');
    });

    it('--as-of answers from the rules the requests filed then recorded, and says if they changed after', async () => {
      await file(h.core, 'UOTHER', 'payments-db', '30m');
      const changed = CONFIG.replace(
        'approvers: { users: [ULEAD], oncall: [payments] }',
        'approvers: { users: [ULEAD, UOTHER] }\n    allowSelfApproval: true',
      );
      h.clock.set(T0 + 24 * HOUR);
      await file(h.withConfig(changed), 'UENG', 'payments-db', '30m');

      const then = await h.core.explain('UOTHER', 'payments-db', T0 + HOUR);
      expect(then.recorded).toMatchObject({
        recordedAt: T0,
        next: { recordedAt: T0 + 24 * HOUR, same: false },
      });
      expect(then.decides.person).toEqual({
        is: 'unknown',
        why: 'group members and on-call on 2026-11-02 are not recorded',
      });
      const later = await h.core.explain('UOTHER', 'payments-db', T0 + 25 * HOUR);
      expect(later.decides).toMatchObject({
        person: { is: true, via: 'listed by name' },
        selfApproval: true,
      });
      expect(explanationLines(later).join('\n')).toContain(
        'No request since recorded other rules.',
      );

      const none = await refused(h.core.explain('UOTHER', 'payments-db', T0 - HOUR));
      expect(none.message).toBe(
        'No request for payments-db was filed on or before 2026-11-02 09:00 Europe/Berlin with its rules recorded, so Hallpass holds no record of what they were then.',
      );
    });
  });
});
