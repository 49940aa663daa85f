import { ConfigError, parseConfig } from '../../src/config/load';
import { DomainError } from '../../src/core';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const MIN = 60_000;
const HOUR = 60 * MIN;
const WHY = 'deploying the hotfix for INC-77';

const CONFIG = `
timezone: UTC
admins: [UADMIN]
requests:
  pendingTimeout: 8h
  approverChannel: CAPPROVALS
  remindAfter: 1h
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
    remindAfter: 30m
    escalateAfter: 2h
    escalateTo: { users: [UBOSS, UREQ], usergroups: [SLEADS], channel: CESC }
  - id: quorum
    name: Two-person rule
    provider: hook
    maxDuration: 2h
    approvalsRequired: 2
    approvers: { users: [UA1, UA2] }
  - id: other
    name: Other
    provider: hook
    maxDuration: 2h
    approvers: { users: [UA1] }
`;

const GROUPS = { SLEADS: ['UVP'] };

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe.each(STORE_KINDS)('reminders and escalation (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(CONFIG, GROUPS, kind)));
  afterEach(() => h.close());

  const file = (resourceId: string, requester = 'UREQ') =>
    h.core.createRequest({ requester, resourceId, duration: '1h', justification: WHY });
  const steps = () =>
    h.sql.all<{ request_id: string; step: string; at: number }>(
      'SELECT request_id, step, at FROM follow_ups ORDER BY at, step',
    );
  const followUpTopics = () =>
    h.sql.all<{ topic: string; subject: string }>(
      "SELECT topic, subject FROM outbox WHERE topic IN ('reminder', 'escalation') ORDER BY id",
    );

  it('re-pings the approvers once after remindAfter, the resource’s own or the default', async () => {
    const own = await file('prod-db');
    const byDefault = await file('quorum', 'UOTHER');
    expect(await h.core.nextFollowUpAt()).toBe(T0 + 30 * MIN);

    h.clock.advance(30 * MIN - 1);
    expect((await h.core.sendDueFollowUps()).reminded).toBe(0);
    h.clock.advance(1);
    expect(await h.core.sendDueFollowUps()).toEqual({
      reminded: 1,
      escalated: 0,
      overdueReviews: 0,
    });
    expect(await h.core.nextFollowUpAt()).toBe(T0 + HOUR);
    h.clock.set(T0 + HOUR);
    expect((await h.core.sendDueFollowUps()).reminded).toBe(1);
    // Later passes, and another process on the same database, send nothing again.
    h.clock.advance(10 * MIN);
    expect((await h.core.sendDueFollowUps()).reminded).toBe(0);
    expect((await (await h.another()).sendDueFollowUps()).reminded).toBe(0);

    expect(await steps()).toEqual([
      { request_id: own.id, step: 'remind', at: T0 + 30 * MIN },
      { request_id: byDefault.id, step: 'remind', at: T0 + HOUR },
    ]);
    expect(await followUpTopics()).toEqual([
      { topic: 'reminder', subject: `request:${own.id}` },
      { topic: 'reminder', subject: `request:${byDefault.id}` },
    ]);
    const audit = await h.sql.all<{ actor: string; request_id: string; details: string }>(
      "SELECT actor, request_id, details FROM audit_events WHERE action = 'request.reminded' ORDER BY seq",
    );
    expect(audit.map((a) => [a.actor, a.request_id, JSON.parse(a.details)])).toEqual([
      ['hallpass', own.id, { after: 30 * MIN }],
      ['hallpass', byDefault.id, { after: HOUR }],
    ]);
  });

  it('sends nothing for a request decided or cancelled before its time', async () => {
    const approved = await file('prod-db');
    const cancelled = await file('other', 'UOTHER');
    await h.core.decide({ requestId: approved.id, actor: 'ULEAD', decision: 'approve' });
    await h.core.cancelRequest(cancelled.id, 'UOTHER');
    expect(await h.core.nextFollowUpAt()).toBeNull();
    h.clock.advance(7 * HOUR);
    expect(await h.core.sendDueFollowUps()).toEqual({
      reminded: 0,
      escalated: 0,
      overdueReviews: 0,
    });
    expect(await steps()).toEqual([]);
    expect(await followUpTopics()).toEqual([]);
  });

  it('escalates after escalateAfter, and then the escalation target may decide as well', async () => {
    const row = await file('prod-db', 'UDEV');
    const before = await refusal(
      h.core.decide({ requestId: row.id, actor: 'UBOSS', decision: 'approve' }),
    );
    expect(before.code).toBe('not_approver');
    expect(await h.core.escalatedAt(row.id)).toBeNull();

    h.clock.advance(30 * MIN);
    await h.core.sendDueFollowUps();
    expect(await h.core.nextFollowUpAt()).toBe(T0 + 2 * HOUR);
    h.clock.set(T0 + 2 * HOUR);
    expect(await h.core.sendDueFollowUps()).toEqual({
      reminded: 0,
      escalated: 1,
      overdueReviews: 0,
    });
    expect(await h.core.escalatedAt(row.id)).toBe(T0 + 2 * HOUR);
    const details = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE action = 'request.escalated'",
    );
    expect(JSON.parse(details)).toEqual({
      after: 2 * HOUR,
      to: { users: ['UBOSS', 'UREQ'], usergroups: ['SLEADS'], channel: 'CESC' },
    });
    expect((await followUpTopics()).map((t) => t.topic)).toEqual(['reminder', 'escalation']);

    // Someone in the target's user group decides; a stranger still cannot.
    const stranger = await refusal(
      h.core.decide({ requestId: row.id, actor: 'URANDOM', decision: 'approve' }),
    );
    expect(stranger.code).toBe('not_approver');
    const outcome = await h.core.decide({ requestId: row.id, actor: 'UVP', decision: 'approve' });
    expect(outcome.request).toMatchObject({ status: 'approved', decidedBy: 'UVP' });
  });

  it('never lets someone of the escalation target approve their own request', async () => {
    const row = await file('prod-db', 'UREQ');
    h.clock.advance(2 * HOUR);
    await h.core.sendDueFollowUps();
    const self = await refusal(
      h.core.decide({ requestId: row.id, actor: 'UREQ', decision: 'approve' }),
    );
    expect(self.code).toBe('self_approval');
    await h.core.decide({ requestId: row.id, actor: 'UBOSS', decision: 'approve' });
    expect((await h.core.request(row.id))?.status).toBe('approved');
  });

  it('follows extension requests too, on their grant’s resource', async () => {
    const row = await file('prod-db');
    await h.core.decide({ requestId: row.id, actor: 'ULEAD', decision: 'approve' });
    const grant = (await h.core.grantOf(row))!;
    await h.core.lifecycle.activated(grant.id, {
      startsAt: T0,
      expiresAt: T0 + HOUR,
      state: null,
      elapsedMs: 5,
    });
    const extension = await h.core.requestExtension({
      grantId: grant.id,
      actor: 'UREQ',
      duration: '30m',
      justification: 'the migration takes longer',
    });
    h.clock.advance(30 * MIN);
    expect((await h.core.sendDueFollowUps()).reminded).toBe(1);
    expect(await steps()).toEqual([
      { request_id: extension.id, step: 'remind', at: T0 + 30 * MIN },
    ]);
  });
});

describe('follow-up and break-glass settings', () => {
  const base = (resource: string, requests = '') => `
requests: { approverChannel: CAPPROVALS, pendingTimeout: 4h${requests} }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: 'x' } }
resources:
  - { id: r1, name: R, provider: hook, maxDuration: 2h, minDuration: 10m, approvers: { users: [ULEAD] }${resource} }
`;
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml, {});
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('names each problem where it is', () => {
    expect(problems(base(', escalateAfter: 1h'))).toEqual([
      'resources[0].escalateTo: is required with escalateAfter (here or under requests): say who is asked next',
    ]);
    expect(
      problems(base(', remindAfter: 4h, escalateAfter: 5h, escalateTo: { channel: CESC }')),
    ).toEqual([
      'resources[0].remindAfter: must be shorter than requests.pendingTimeout (4h), or requests expire before anyone is reminded',
      'resources[0].escalateAfter: must be shorter than requests.pendingTimeout (4h), or requests expire before they are escalated',
    ]);
    expect(problems(base('', ', escalateTo: {}'))).toEqual([
      'requests.escalateTo: must name at least one user, user group or channel',
    ]);
    expect(problems(base(', breakGlass: { maxDuration: 5m }'))).toEqual([
      'resources[0].breakGlass: must name at least one user, group or on-call source who may break the glass',
      "resources[0].breakGlass: maxDuration must be between the resource's minDuration (10m) and maxDuration (2h)",
    ]);
    expect(problems(base(', breakGlass: { oncall: [nobody], maxDuration: 1h }'))).toEqual([
      'resources[0].breakGlass.oncall[0]: unknown on-call source "nobody" (known: none defined under oncall)',
    ]);
    expect(problems(base(", breakGlass: { ldapGroups: ['cn=sre'], maxDuration: 1h }"))).toEqual([
      'resources[0].breakGlass.ldapGroups: needs directory.ldap: the LDAP server that says who is in these groups',
    ]);
    expect(problems(base(', breakGlass: { users: [UONCALL] }'))).toEqual([
      'resources[0].breakGlass.maxDuration: Invalid input: expected string, received undefined',
    ]);
  });

  it('takes the defaults from requests, and reviewWithin defaults to 24h', () => {
    const config = parseConfig(
      base(
        ', breakGlass: { users: [UONCALL], maxDuration: 1h }',
        ', escalateAfter: 1h, escalateTo: { users: [UBOSS] }',
      ),
      {},
    );
    expect(config.resources[0]!.breakGlass).toEqual({
      users: ['UONCALL'],
      usergroups: [],
      ldapGroups: [],
      oktaGroups: [],
      oncall: [],
      maxDuration: HOUR,
      reviewWithin: 24 * HOUR,
    });
    expect(config.requests.escalateTo).toEqual({ users: ['UBOSS'], usergroups: [] });
  });
});
