import { DomainError, OVERVIEW_LIMIT } from '../../src/core';
import { BASE_CONFIG, coreHarness, T0, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const JUST = 'investigating INC-42 slow queries';

async function counts(h: CoreHarness) {
  const one = (table: string) => h.sql.value<number>(`SELECT count(*) FROM ${table}`);
  return {
    requests: await one('requests'),
    audit: await one('audit_events'),
    outbox: await one('outbox'),
    grants: await one('grants'),
  };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe.each(STORE_KINDS)('creating a request (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(() => h.close());

  it('records it pending, audits it and queues the approver message and the receipt DM', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '2h',
      justification: `  ${JUST}  `,
    });
    expect(row).toMatchObject({
      status: 'pending',
      durationMs: 7_200_000,
      justification: JUST,
      approvalsRequired: 1,
    });
    expect(row.id).toMatch(/^req_[0-9a-z]{10}$/);
    expect(row.pendingUntil).toBe(h.clock.now() + 24 * 3_600_000);
    const audit = await h.sql.all('SELECT actor, action, request_id FROM audit_events');
    expect(audit).toEqual([{ actor: 'UREQ', action: 'request.created', request_id: row.id }]);
    const topics = await h.sql.all('SELECT topic, subject FROM outbox ORDER BY id');
    expect(topics).toEqual([
      { topic: 'requester_dm', subject: 'user:UREQ' },
      { topic: 'approver_message', subject: `request:${row.id}` },
    ]);
  });

  it("names every problem of a request's fields at once, each on its field, and records nothing", async () => {
    const problems = h.core.requestProblems({
      resourceId: 'ticketed',
      duration: '9h',
      justification: 'short',
      ticket: 'inc 42',
    });
    expect(problems.map((p) => [p.field, p.code])).toEqual([
      ['duration', 'bad_duration'],
      ['ticket', 'bad_ticket'],
      ['justification', 'bad_justification'],
    ]);
    expect(
      h.core.requestProblems({ resourceId: 'prod-db', duration: '1h', justification: JUST }),
    ).toEqual([]);
    const unknown = h.core.requestProblems({
      resourceId: 'nope',
      duration: '1h',
      justification: '',
    });
    expect(unknown.map((p) => p.field)).toEqual(['resource', 'justification']);
    expect(await counts(h)).toEqual({ requests: 0, audit: 0, outbox: 0, grants: 0 });
  });

  it.each([
    [
      { resourceId: 'prod-dbb' },
      'unknown_resource',
      'resource',
      'Unknown resource "prod-dbb". Did you mean prod-db?',
    ],
    [
      { resourceId: 'zzzzzzzz' },
      'unknown_resource',
      'resource',
      'Unknown resource "zzzzzzzz". Try `/jit resources` to see what you can request.',
    ],
    [
      { duration: '5h' },
      'bad_duration',
      'duration',
      '5h is outside what prod-db allows: pick a duration between 5m and 4h.',
    ],
    [
      { duration: '1m' },
      'bad_duration',
      'duration',
      '1m is outside what prod-db allows: pick a duration between 5m and 4h.',
    ],
    [
      { duration: 'soon' },
      'bad_duration',
      'duration',
      '"soon" is not a duration. Use something like 30m, 2h or 1h30m (between 5m and 4h for prod-db).',
    ],
    [
      { justification: ' because ' },
      'bad_justification',
      'justification',
      'Say why you need access in at least 10 characters (you wrote 7).',
    ],
    [
      { justification: 'x'.repeat(2001) },
      'bad_justification',
      'justification',
      'Keep the justification under 2000 characters (you wrote 2001).',
    ],
    [
      { resourceId: 'ticketed' },
      'bad_ticket',
      'ticket',
      'ticketed needs a ticket reference, like ABC-123.',
    ],
    [
      { resourceId: 'ticketed', ticket: 'inc 42' },
      'bad_ticket',
      'ticket',
      '"inc 42" is not a ticket reference ticketed accepts; it takes one like ABC-123.',
    ],
    [
      { resourceId: 'ticketed', requester: 'UOTHER', ticket: 'INC-1' },
      'not_allowed',
      'resource',
      'You are not allowed to request ticketed (only <@UREQ> or members of <!subteam^SENG> may). Ask in <#CAPPROVALS> if you think you should be.',
    ],
  ])(
    'refuses %p with a specific message and changes nothing',
    async (override, code, field, message) => {
      const before = await counts(h);
      const err = await refusal(
        h.core.createRequest({
          requester: 'UREQ',
          resourceId: 'prod-db',
          duration: '1h',
          justification: JUST,
          ...override,
        }),
      );
      expect({ code: err.code, field: err.field, message: err.message }).toEqual({
        code,
        field,
        message,
      });
      expect(await counts(h)).toEqual(before);
    },
  );

  it('lets requesters in through a user group', async () => {
    const row = await h.core.createRequest({
      requester: 'UENG',
      resourceId: 'ticketed',
      duration: '30m',
      justification: JUST,
      ticket: 'INC-7',
    });
    expect(row.ticket).toBe('INC-7');
  });

  it('returns the same request for a resubmitted form (same client key)', async () => {
    const input = {
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
      clientKey: 'view:V1',
    };
    const first = await h.core.createRequest(input);
    const again = await h.core.createRequest(input);
    expect(again.id).toBe(first.id);
    expect(await counts(h)).toMatchObject({ requests: 1, audit: 1, outbox: 2 });
  });

  it('returns the same request for a form asking to start at 09:30 sent again just after 09:30', async () => {
    // 09:29:59.6 UTC; read again after 09:30, "09:30" would name tomorrow.
    h.clock.set(T0 + 30 * 60_000 - 400);
    const input = {
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
      startAt: '09:30',
      clientKey: 'view:VSTART',
    };
    const first = await h.core.createRequest(input);
    expect(first.startAt).toBe(T0 + 30 * 60_000);
    h.clock.advance(800);
    const again = await h.core.createRequest(input);
    expect(again.id).toBe(first.id);
    expect(await counts(h)).toMatchObject({ requests: 1 });
  });

  it('refuses a client key sent again to ask for another duration, and files nothing', async () => {
    const input = {
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
      clientKey: 'view:VOTHER',
    };
    await h.core.createRequest(input);
    await expect(h.core.createRequest({ ...input, duration: '2h' })).rejects.toMatchObject({
      code: 'bad_state',
      message: expect.stringContaining('which asked for another duration'),
    });
    expect(await counts(h)).toMatchObject({ requests: 1, audit: 1 });
  });

  it('refuses a client key another requester filed with, and files nothing', async () => {
    const input = {
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
      clientKey: 'api:k',
    };
    await h.core.createRequest({ ...input, requester: 'UREQ' });
    await expect(h.core.createRequest({ ...input, requester: 'UDBA' })).rejects.toMatchObject({
      code: 'not_yours',
      message: expect.stringContaining('already used by another requester'),
    });
    expect(await counts(h)).toMatchObject({ requests: 1, audit: 1 });
  });

  it('auto-approves when no approvals are required, recording it as such', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    expect(row).toMatchObject({ status: 'approved', autoApproved: true, decidedBy: 'hallpass' });
    const actions = (
      await h.sql.all<{ action: string }>('SELECT action FROM audit_events ORDER BY seq')
    ).map((r) => r.action);
    expect(actions).toEqual(['request.created', 'request.approved', 'grant.created']);
    const grant = await h.sql.get('SELECT status, user_id, duration_ms FROM grants');
    expect(grant).toEqual({ status: 'activating', user_id: 'UREQ', duration_ms: 1_800_000 });
  });
});

describe.each(STORE_KINDS)('cancelling and expiring (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(() => h.close());

  it('lets only the requester cancel, and only while pending', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    await expect(h.core.cancelRequest(row.id, 'ULEAD')).rejects.toThrow(
      `Request ${row.id} is not yours to cancel.`,
    );
    expect((await h.core.cancelRequest(row.id, 'UREQ')).status).toBe('cancelled');
    await expect(h.core.cancelRequest(row.id, 'UREQ')).rejects.toThrow(
      `Request ${row.id} is already cancelled.`,
    );
    await expect(h.core.cancelRequest('req_nope', 'UREQ')).rejects.toThrow('No request req_nope.');
  });

  it('expires undecided requests after the pending timeout, once', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    h.clock.advance(24 * 3_600_000 - 1);
    expect(await h.core.expireStaleRequests()).toBe(0);
    h.clock.advance(1);
    expect(await h.core.expireStaleRequests()).toBe(1);
    expect(await h.core.expireStaleRequests()).toBe(0);
    const status = await h.sql.value('SELECT status FROM requests WHERE id = ?', row.id);
    expect(status).toBe('expired');
  });

  it('treats a click after the timeout as too late', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    h.clock.advance(25 * 3_600_000);
    const outcome = await h.core.decide({ requestId: row.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.kind).toBe('already_decided');
    expect(outcome.request.status).toBe('expired');
    expect((await counts(h)).grants).toBe(0);
  });
});

describe.each(STORE_KINDS)("a person's overview (%s)", (kind) => {
  let h: CoreHarness;
  const busy = BASE_CONFIG.replace(
    'requests:\n',
    'requests:\n  maxPendingPerUser: 20\n  filingLimit: { requests: 100, per: 1m }\n',
  );
  beforeEach(async () => (h = await coreHarness(busy, undefined, kind)));
  afterEach(() => h.close());

  it('carries the newest pending requests up to its limit and counts them all', async () => {
    const ids: string[] = [];
    for (let i = 0; i < OVERVIEW_LIMIT + 2; i++) {
      h.clock.advance(1_000);
      const req = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      });
      ids.push(req.id);
    }
    const overview = await h.core.overviewOf('UREQ');
    expect(overview.pendingTotal).toBe(OVERVIEW_LIMIT + 2);
    expect(overview.pending.map((r) => r.id)).toEqual(ids.slice(2).reverse());
  });

  it('carries the grants ending soonest up to its limit and counts them all', async () => {
    const ids: string[] = [];
    for (let i = 0; i < OVERVIEW_LIMIT + 2; i++) {
      const req = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      });
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      const grantId = await h.sql.value<string>(
        'SELECT id FROM grants WHERE request_id = ?',
        req.id,
      );
      // Each grant made ends a minute before the one made before it.
      const now = h.clock.now();
      await h.core.lifecycle.activated(grantId, {
        startsAt: now,
        expiresAt: now + (OVERVIEW_LIMIT + 2 - i) * 60_000,
        state: {},
        elapsedMs: 5,
      });
      ids.push(grantId);
    }
    const overview = await h.core.overviewOf('UREQ');
    expect(overview.grantsTotal).toBe(OVERVIEW_LIMIT + 2);
    expect(overview.grants.map((g) => g.id)).toEqual(ids.slice(2).reverse());
  });
});
