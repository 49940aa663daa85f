import { DM_EVENTS } from '../../../src/core/notifications';
import type { ProviderGuarantees } from '../../../src/providers/types';
import { ACTIONS } from '../../../src/slack/ids';
import { blockKitProblems, LIMITS } from '../../../src/slack/ui/limits';
import {
  alertMessage,
  approverMessage,
  credentialsMessage,
  isDmPost,
  requestCard,
  requesterDm,
  withCredentials,
  type DmPost,
  type ApprovalView,
  type GrantView,
  type RequestView,
  type SlackMessage,
} from '../../../src/slack/ui/messages';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const moment = { now: T0 + 5 * MIN, timezone: 'UTC' };
const resource = { id: 'prod-db', name: 'Production database' };
const enforcing: ProviderGuarantees = {
  enforcesExpiry: true,
  endsOpenSessions: true,
  isolation: 'per-grant',
};
const trusting: ProviderGuarantees = {
  enforcesExpiry: false,
  endsOpenSessions: false,
  isolation: 'shared',
};

function request(over: Partial<RequestView> = {}): RequestView {
  return {
    id: 'req_0123456789',
    kind: 'access',
    grantId: null,
    requester: 'UREQ',
    resourceId: 'prod-db',
    durationMs: 2 * HOUR,
    justification: 'investigating INC-42 slow queries',
    ticket: null,
    status: 'pending',
    approvalsRequired: 1,
    autoApproved: false,
    createdAt: T0,
    pendingUntil: T0 + 24 * HOUR,
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
    ...over,
  };
}

function grant(over: Partial<GrantView> = {}): GrantView {
  return {
    id: 'gr_abcdefghjk',
    status: 'active',
    startsAt: T0 + 3 * MIN,
    expiresAt: T0 + 3 * MIN + 2 * HOUR,
    endReason: null,
    endedBy: null,
    endNote: null,
    endedAt: null,
    ...over,
  };
}

const approval = (approver: string, at: number, reason: string | null = null): ApprovalView => ({
  approver,
  decision: 'approve',
  reason,
  createdAt: at,
});

/** Every text a person reads in a message, joined, to assert on wording without the JSON. */
function textOf(message: SlackMessage): string {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      if (typeof obj.text === 'string') out.push(obj.text);
      Object.entries(obj).forEach(([k, v]) => k !== 'text' && walk(v));
      if (obj.text && typeof obj.text === 'object') walk(obj.text);
    }
  };
  walk(message.blocks);
  return out.join('\n');
}

function buttonsOf(message: SlackMessage): { action: string; value: string }[] {
  return message.blocks.flatMap((b) =>
    b.type === 'actions'
      ? b.elements.map((e) => ({
          action: String((e as { action_id?: string }).action_id),
          value: String((e as { value?: string }).value),
        }))
      : [],
  );
}

function expectValid(message: SlackMessage): void {
  expect(blockKitProblems(message.blocks)).toEqual([]);
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.text.length).toBeLessThanOrEqual(LIMITS.messageText);
}

describe('approver message', () => {
  it('asks for a decision with Approve and Deny buttons carrying only the request id', () => {
    const message = approverMessage({ request: request(), resource, approvals: [], ...moment });
    expectValid(message);
    expect(buttonsOf(message)).toEqual([
      { action: ACTIONS.approve, value: 'req_0123456789' },
      { action: ACTIONS.deny, value: 'req_0123456789' },
    ]);
    const text = textOf(message);
    expect(text).toContain('<@UREQ>');
    expect(text).toContain('*Production database* (`prod-db`)');
    expect(text).toContain('*Duration*\n2 h');
    expect(text).toContain('investigating INC-42 slow queries');
    expect(text).toContain('Approvals: 0 of 1');
    expect(message.text).toBe(
      'Access request from <@UREQ> for Production database (2 h): waiting for approval',
    );
    expect(message).toMatchSnapshot();
  });

  it('counts approvals of a quorum and names who approved when', () => {
    const message = approverMessage({
      request: request({ approvalsRequired: 2, ticket: 'OPS-7' }),
      resource,
      approvals: [approval('UA1', T0 + 2 * MIN, 'looks fine')],
      ...moment,
    });
    expectValid(message);
    const text = textOf(message);
    expect(text).toContain('Approvals: 1 of 2');
    expect(text).toContain('✅ <@UA1> approved at 09:02 UTC: looks fine');
    expect(text).toContain('Waiting for one more approval');
    expect(text).toContain('*Ticket*\nOPS-7');
    expect(message).toMatchSnapshot();
  });

  it.each([
    ['enforcing', enforcing, 'Access also ends in the target system at expiry'],
    ['trusting', trusting, 'Hallpass revokes at expiry; the target system does not enforce it'],
  ])(
    'once active says until when and what the %s provider guarantees',
    (_name, guarantees, claim) => {
      const message = approverMessage({
        request: request({ status: 'approved', decidedAt: T0 + 2 * MIN, decidedBy: 'ULEAD' }),
        resource,
        approvals: [approval('ULEAD', T0 + 2 * MIN)],
        grant: grant(),
        guarantees,
        ...moment,
      });
      expectValid(message);
      expect(buttonsOf(message)).toEqual([]);
      const text = textOf(message);
      expect(text).toContain('✅ Approved by <@ULEAD> at 09:02 UTC.');
      expect(text).toContain('🟢 Active until 11:03 UTC.');
      expect(text).toContain(claim);
      expect(message).toMatchSnapshot();
    },
  );

  it.each<[string, Partial<RequestView>, GrantView | undefined, string]>([
    [
      'denied with a reason',
      { status: 'denied', decidedBy: 'ULEAD', decidedAt: T0 + MIN, decisionReason: 'not now' },
      undefined,
      '❌ Denied by <@ULEAD> at 09:01 UTC: not now',
    ],
    [
      'cancelled',
      { status: 'cancelled', decidedBy: 'UREQ', decidedAt: T0 + MIN },
      undefined,
      '🚫 Cancelled by <@UREQ> at 09:01 UTC.',
    ],
    [
      'expired undecided',
      { status: 'expired', decidedBy: 'hallpass', decidedAt: T0 + 24 * HOUR },
      undefined,
      '⌛ Expired at Tue 3 Nov 09:00 UTC: nobody decided in time.',
    ],
    [
      'revoked by its holder',
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({
        status: 'revoked',
        endReason: 'revoked_by_user',
        endedBy: 'UREQ',
        endNote: 'done',
        endedAt: T0 + 30 * MIN,
      }),
      '⚪ Revoked by <@UREQ> at 09:30 UTC (done).',
    ],
    [
      'being revoked',
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({ status: 'revoking', endReason: 'revoked_by_admin', endedBy: 'UADMIN' }),
      '⏳ Revoked by <@UADMIN>; removing access…',
    ],
    [
      'expired grant',
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({
        status: 'revoked',
        endReason: 'expired',
        endedBy: 'hallpass',
        endedAt: T0 + 4 * HOUR,
      }),
      '⚪ Expired at 11:03 UTC; access removed at 13:00 UTC.',
    ],
    [
      'activation failed',
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({ status: 'failed', startsAt: null, expiresAt: null, endReason: 'activation_failed' }),
      '❗ Activation failed',
    ],
    [
      'still activating',
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({ status: 'activating', startsAt: null, expiresAt: null }),
      '⏳ Setting up access…',
    ],
  ])('%s: shows it without buttons', (_name, over, g, line) => {
    const message = approverMessage({
      request: request(over),
      resource,
      approvals: [],
      grant: g,
      guarantees: enforcing,
      ...moment,
    });
    expectValid(message);
    expect(buttonsOf(message)).toEqual([]);
    expect(textOf(message)).toContain(line);
    expect(textOf(message)).not.toContain('Access also ends');
    expect(message).toMatchSnapshot();
  });

  it('announces an auto-approved request for visibility, without approvals or buttons', () => {
    const message = approverMessage({
      request: request({
        approvalsRequired: 0,
        status: 'approved',
        autoApproved: true,
        decidedBy: 'hallpass',
        decidedAt: T0,
      }),
      resource,
      approvals: [],
      grant: grant({ status: 'activating', startsAt: null, expiresAt: null }),
      ...moment,
    });
    expectValid(message);
    expect(buttonsOf(message)).toEqual([]);
    const text = textOf(message);
    expect(text).toContain('Approved automatically at 09:00 UTC');
    expect(text).toContain('Posted here for visibility.');
    expect(text).not.toContain('Approvals:');
    expect(message).toMatchSnapshot();
  });

  it('says an extension is one, names the grant and links the original request', () => {
    const message = approverMessage({
      request: request({ kind: 'extension', grantId: 'gr_abcdefghjk', durationMs: HOUR }),
      resource,
      approvals: [],
      grant: grant(),
      originalMessageUrl: 'https://example.slack.com/archives/CDBA/p1700000000000001',
      ...moment,
    });
    expectValid(message);
    const text = textOf(message);
    expect(text).toContain('Extension request: Production database');
    expect(text).toContain('*Extra time*\n1 h');
    expect(text).toContain(
      "More time on <@UREQ>'s access to *Production database* (grant `gr_abcdefghjk`). 🟢 Active until 11:03 UTC.",
    );
    expect(text).toContain(
      '<https://example.slack.com/archives/CDBA/p1700000000000001|Original request>',
    );
    expect(buttonsOf(message).map((b) => b.action)).toEqual([ACTIONS.approve, ACTIONS.deny]);
    expect(message.text).toMatch(/^Extension request from <@UREQ>/);
    expect(message).toMatchSnapshot();
  });

  it('names who approved once, in the decision line, and not again in an approvals list', () => {
    const message = approverMessage({
      request: request({
        approvalsRequired: 2,
        status: 'approved',
        decidedBy: 'UA2',
        decidedAt: T0 + 3 * MIN,
      }),
      resource,
      approvals: [approval('UA1', T0 + 2 * MIN), approval('UA2', T0 + 3 * MIN)],
      grant: grant(),
      ...moment,
    });
    const text = textOf(message);
    expect(text).toContain('✅ Approved by <@UA1> and <@UA2> at 09:03 UTC.');
    expect(text).not.toContain('approved at');
    expect(text).not.toContain('Approvals:');
    expect(text.match(/<@UA1>/g)).toHaveLength(1);
  });

  it.each<[string, GrantView, string]>([
    ['active', grant(), 'access active'],
    ['being removed', grant({ status: 'revoking', endReason: 'expired' }), 'access being removed'],
    [
      'ended',
      grant({ status: 'revoked', endReason: 'expired', endedAt: T0 + 3 * HOUR }),
      'access ended',
    ],
    [
      'failed',
      grant({ status: 'failed', endReason: 'activation_failed' }),
      'access could not be set up',
    ],
  ])('has notification text that follows the grant once %s', (_name, g, words) => {
    const message = approverMessage({
      request: request({ status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN }),
      resource,
      approvals: [approval('ULEAD', T0 + MIN)],
      grant: g,
      ...moment,
    });
    expect(message.text).toBe(
      `Access request from <@UREQ> for Production database (2 h): ${words}`,
    );
  });

  it('links the channel of a slack-channel grant and says Hallpass removes the holder from it', () => {
    const message = approverMessage({
      request: request({ status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN }),
      resource,
      approvals: [approval('ULEAD', T0 + MIN)],
      grant: grant(),
      guarantees: { enforcesExpiry: false, endsOpenSessions: true, isolation: 'shared' },
      channel: 'C0WARROOM',
      ...moment,
    });
    const text = textOf(message);
    expect(text).toContain('Hallpass removes the holder from <#C0WARROOM> when the time is up');
    expect(text).not.toContain('target system');
  });

  it('writes times in the configured zone', () => {
    const message = approverMessage({
      request: request({ status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN }),
      resource,
      approvals: [],
      grant: grant(),
      now: T0,
      timezone: 'Europe/Berlin',
    });
    expect(textOf(message)).toContain('Active until 12:03 Europe/Berlin.');
    expect(textOf(message)).toContain('Approved by <@ULEAD> at 10:01 Europe/Berlin.');
  });

  it('escapes what people typed, so it cannot ping a channel or fake a link', () => {
    const message = approverMessage({
      request: request({
        justification: '<!channel> see <https://evil.example|the docs> & <@UADMIN>',
        ticket: '<!here>',
      }),
      resource: { id: 'prod-db', name: 'Prod <db> & co' },
      approvals: [],
      ...moment,
    });
    const text = textOf(message) + message.text;
    expect(text).toContain(
      '&lt;!channel&gt; see &lt;https://evil.example|the docs&gt; &amp; &lt;@UADMIN&gt;',
    );
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!here>');
    expect(text).toContain('Prod &lt;db&gt; &amp; co');
  });

  it('cuts huge inputs with an ellipsis and stays within every Block Kit limit', () => {
    const huge = '&<>😀'.repeat(50_000);
    const message = approverMessage({
      request: request({
        status: 'denied',
        justification: huge,
        ticket: huge,
        decisionReason: huge,
        decidedBy: 'ULEAD',
        decidedAt: T0 + MIN,
        approvalsRequired: 10,
        requester: huge,
      }),
      resource: { id: 'prod-db', name: huge },
      approvals: Array.from({ length: 40 }, (_, i) => approval(`UA${i}X`, T0 + i * 1000, huge)),
      grant: grant({
        status: 'revoked',
        endReason: 'revoked_by_admin',
        endedBy: huge,
        endNote: huge,
      }),
      ...moment,
    });
    expectValid(message);
    const text = textOf(message);
    expect(text).toMatch(/Justification\*\n(&amp;&lt;&gt;😀)+(&amp;|&lt;|&gt;)*…/);
    expect(text).toContain('…and 30 more');
    expect(text).not.toMatch(/&(a|am|l|g|lt|gt|amp)?…/);
  });
});

describe('requester DMs', () => {
  const approvedRequest = request({ status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN });
  const cases: Record<DmPost, { request: RequestView; grant?: GrantView }> = {
    'request.denied': {
      request: request({ status: 'denied', decidedBy: 'ULEAD', decisionReason: 'use staging' }),
    },
    'request.expired': { request: request({ status: 'expired', decidedBy: 'hallpass' }) },
    'grant.active': { request: approvedRequest, grant: grant() },
    'grant.expiring': { request: approvedRequest, grant: grant() },
    'grant.ended': {
      request: approvedRequest,
      grant: grant({
        status: 'revoked',
        endReason: 'expired',
        endedBy: 'hallpass',
        endedAt: T0 + 2 * HOUR + 4 * MIN,
      }),
    },
    'grant.failed': {
      request: approvedRequest,
      grant: grant({ status: 'revoking', endReason: 'activation_failed' }),
    },
    'extension.approved': {
      request: request({
        kind: 'extension',
        grantId: 'gr_abcdefghjk',
        status: 'approved',
        decidedBy: 'ULEAD',
      }),
      grant: grant({ expiresAt: T0 + 4 * HOUR }),
    },
    'extension.denied': {
      request: request({
        kind: 'extension',
        grantId: 'gr_abcdefghjk',
        status: 'denied',
        decidedBy: 'ULEAD',
        decisionReason: 'wrap it up',
      }),
      grant: grant(),
    },
    'breakglass.granted': { request: approvedRequest },
  };
  const expectedButtons: Record<DmPost, string[]> = {
    'request.denied': [],
    'request.expired': [],
    'grant.active': [ACTIONS.revokeGrant, ACTIONS.extendGrant],
    'grant.expiring': [ACTIONS.extendGrant],
    'grant.ended': [],
    'grant.failed': [],
    'extension.approved': [ACTIONS.revokeGrant, ACTIONS.extendGrant],
    'extension.denied': [],
    'breakglass.granted': [],
  };
  const posted = DM_EVENTS.filter(isDmPost);

  it('posts a DM for every event that matters, and only moves the card for the rest', () => {
    expect(DM_EVENTS.filter((e) => !isDmPost(e))).toEqual([
      'request.received',
      'request.approved',
      'request.cancelled',
    ]);
  });

  it.each(posted.map((e) => [e]))('%s', (event) => {
    const message = requesterDm({
      event,
      ...cases[event],
      resource,
      guarantees: trusting,
      ...moment,
    });
    expectValid(message);
    expect(buttonsOf(message).map((b) => b.action)).toEqual(expectedButtons[event]);
    for (const b of buttonsOf(message))
      expect(['req_0123456789', 'gr_abcdefghjk']).toContain(b.value);
    expect(message).toMatchSnapshot();
  });

  it('tells the time left before expiry and offers to extend', () => {
    const message = requesterDm({
      event: 'grant.expiring',
      request: cases['grant.expiring'].request,
      grant: grant({ expiresAt: moment.now + 10 * MIN }),
      resource,
      ...moment,
    });
    expect(textOf(message)).toContain('ends at *09:15 UTC* (in 10 min)');
  });

  it('says until when access is active, with how long that is from now', () => {
    const message = requesterDm({
      event: 'grant.active',
      request: approvedRequest,
      grant: grant({ expiresAt: moment.now + 90 * MIN }),
      resource,
      guarantees: trusting,
      ...moment,
    });
    expect(message.text).toBe(
      '🟢 Your access to *Production database* (`prod-db`) is active until *10:35 UTC* (in 1 h 30 min).',
    );
    expect(textOf(message)).toContain('the target system does not enforce it by itself');
  });

  it('speaks of the channel for a slack-channel grant', () => {
    const message = requesterDm({
      event: 'grant.active',
      request: approvedRequest,
      grant: grant(),
      resource,
      guarantees: { enforcesExpiry: false, endsOpenSessions: true, isolation: 'shared' },
      channel: 'C0WARROOM',
      ...moment,
    });
    const text = textOf(message);
    expect(text).toContain(
      '🟢 You are in <#C0WARROOM> (*Production database* (`prod-db`)) until *11:03 UTC* (in 1 h 58 min). Hallpass removes you from it then.',
    );
    expect(text).not.toContain('target system');
    const ended = requesterDm({
      event: 'grant.ended',
      request: approvedRequest,
      grant: grant({ status: 'revoked', endReason: 'expired', endedAt: T0 + 2 * HOUR }),
      resource,
      channel: 'C0WARROOM',
      ...moment,
    });
    expect(textOf(ended)).toContain('You are no longer in <#C0WARROOM>.');
  });

  it('writes times in the zone it is given', () => {
    const message = requesterDm({
      event: 'grant.expiring',
      request: approvedRequest,
      grant: grant({ expiresAt: moment.now + 10 * MIN }),
      resource,
      now: moment.now,
      timezone: 'America/New_York',
    });
    expect(textOf(message)).toContain('ends at *04:15 America/New_York* (in 10 min)');
  });

  it('gives the reason of a denial and says the access still ends on time', () => {
    const message = requesterDm({
      event: 'extension.denied',
      ...cases['extension.denied'],
      resource,
      ...moment,
    });
    expect(textOf(message)).toContain(
      'was denied by <@ULEAD>: wrap it up\nYour access still ends at *11:03 UTC*.',
    );
    expect(message.text).toBe(
      '❌ Your request for *2 h* more on *Production database* (`prod-db`) was denied by <@ULEAD>.',
    );
  });

  it('offers no buttons that no longer apply when rendered after the state moved on', () => {
    const ended = grant({ status: 'revoked', endReason: 'revoked_by_user', endedBy: 'UREQ' });
    for (const event of ['grant.active', 'grant.expiring', 'extension.approved'] as const) {
      const message = requesterDm({
        event,
        request: approvedRequest,
        grant: ended,
        resource,
        ...moment,
      });
      expect(buttonsOf(message)).toEqual([]);
    }
  });

  it('fits a huge denial reason and note', () => {
    const huge = '<&>'.repeat(20_000);
    for (const event of posted) {
      const message = requesterDm({
        event,
        request: request({ status: 'denied', decidedBy: huge, decisionReason: huge }),
        grant: grant({
          status: 'revoked',
          endReason: 'revoked_by_admin',
          endedBy: 'UADMIN',
          endNote: huge,
        }),
        resource: { id: 'prod-db', name: huge },
        ...moment,
      });
      expectValid(message);
    }
  });
});

describe('request card', () => {
  const card = (over: Partial<RequestView>, g?: GrantView, approvals: ApprovalView[] = []) =>
    requestCard({
      request: request(over),
      resource,
      grant: g,
      approvals,
      approverChannel: 'CDBA',
      ...moment,
    });

  it('says where a waiting request is and offers Cancel', () => {
    const message = card({});
    expectValid(message);
    expect(textOf(message)).toContain(
      '📨 Your request for *Production database* (`prod-db`) for *2 h* is with the approvers in <#CDBA>. Undecided, it expires at Tue 3 Nov 09:00 UTC (in 23 h 55 min).',
    );
    expect(buttonsOf(message)).toEqual([
      { action: ACTIONS.cancelRequest, value: 'req_0123456789' },
    ]);
    expect(message).toMatchSnapshot();
  });

  it('counts a quorum so far', () => {
    const message = card({ approvalsRequired: 2 }, undefined, [approval('UA1', T0 + MIN)]);
    expect(textOf(message)).toContain('1 of 2 approvals so far.');
  });

  it('shows the approval, who gave it, and that the access is being set up, without buttons', () => {
    const message = card(
      { status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN },
      grant({ status: 'activating', startsAt: null, expiresAt: null }),
      [approval('ULEAD', T0 + MIN)],
    );
    expect(textOf(message)).toContain(
      '✅ Approved by <@ULEAD> at 09:01 UTC. Setting up your access; I will message you when it is ready.',
    );
    expect(buttonsOf(message)).toEqual([]);
  });

  it.each([
    [
      { status: 'denied' as const, decidedBy: 'ULEAD', decisionReason: 'use staging' },
      '❌ Denied by <@ULEAD>: use staging',
    ],
    [
      { status: 'cancelled' as const, decidedBy: 'UREQ', decidedAt: T0 + MIN },
      '🚫 Cancelled by <@UREQ> at 09:01 UTC.',
    ],
    [{ status: 'expired' as const, decidedBy: 'hallpass' }, '⌛ Expired: nobody decided in time.'],
  ])('shows a request that ended undecided or denied: %j', (over, line) => {
    const message = card(over);
    expectValid(message);
    expect(textOf(message)).toContain(line);
    expect(buttonsOf(message)).toEqual([]);
  });
});

describe('credentials DM', () => {
  it('shows the credentials whole and keeps them out of the notification text', () => {
    const secret = 'user: alice\npassword: `hunter2-very-secret`';
    const message = credentialsMessage({ grantId: 'gr_abcdefghjk', resource, credentials: secret });
    expectValid(message);
    expect(textOf(message)).toContain(secret);
    expect(message.text).not.toContain('hunter2');
    expect(message).toMatchSnapshot();
  });

  it('splits long credentials over sections without losing any of it', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
    const message = credentialsMessage({
      grantId: 'gr_abcdefghjk',
      resource,
      credentials: lines.join('\n'),
    });
    expectValid(message);
    for (const line of lines) expect(textOf(message)).toContain(line);
  });

  it('joins the "access is active" DM, above its buttons, keeping the secret out of the notification', () => {
    const active = requesterDm({
      event: 'grant.active',
      request: request({ status: 'approved', decidedBy: 'ULEAD', decidedAt: T0 + MIN }),
      grant: grant(),
      resource,
      guarantees: trusting,
      ...moment,
    });
    const joined = withCredentials(active, 'password: `hunter2-very-secret`');
    expectValid(joined);
    expect(joined.text).toBe(active.text);
    expect(textOf(joined)).toContain('password: `hunter2-very-secret`');
    expect(joined.blocks.at(-1)!.type).toBe('context');
    expect(joined.blocks.at(-2)!.type).toBe('actions');
    const huge = withCredentials(active, 'y'.repeat(500_000));
    expectValid(huge);
    expect(textOf(huge)).toContain('the rest is cut');
  });

  it('cuts what no single message can hold and says so', () => {
    const message = credentialsMessage({
      grantId: 'gr_abcdefghjk',
      resource,
      credentials: 'y'.repeat(500_000),
    });
    expectValid(message);
    expect(message.blocks).toHaveLength(LIMITS.blocksPerMessage);
    expect(textOf(message)).toContain('the rest is cut');
  });
});

describe('alert', () => {
  it.each(['grant', 'revoke'] as const)(
    'says the %s failed and that Hallpass keeps retrying',
    (action) => {
      const message = alertMessage({
        grantId: 'gr_abcdefghjk',
        action,
        attempts: 5,
        error: 'HTTP 503 from https://hooks.example/grant',
        userId: 'UREQ',
        resource,
      });
      expectValid(message);
      const text = textOf(message);
      expect(text).toContain('`gr_abcdefghjk`');
      expect(text).toContain('<@UREQ>');
      expect(text).toContain(`${action} (5 attempts)`);
      expect(text).toContain('HTTP 503 from https://hooks.example/grant');
      expect(text).toMatch(/keeps retrying/);
      expect(message).toMatchSnapshot();
    },
  );

  it('says in its notification text what its body says: activation gave up, a revoke goes on', () => {
    const base = {
      grantId: 'gr_abcdefghjk',
      attempts: 5,
      error: 'HTTP 503',
      userId: 'UREQ',
      resource,
    };
    const gaveUp = alertMessage({ ...base, action: 'grant' });
    expect(gaveUp.text).toBe(
      '⚠️ Hallpass gave up activating access for <@UREQ> on Production database (grant gr_abcdefghjk) after 5 attempts and is removing anything that may have been set up.',
    );
    expect(textOf(gaveUp)).toContain('gave up activating');
    const revoke = alertMessage({ ...base, action: 'revoke' });
    expect(revoke.text).toContain('could not revoke access for <@UREQ> on Production database');
    expect(revoke.text).toContain('it keeps retrying');
  });

  it('still renders for a grant it no longer finds, and fits a huge error', () => {
    const message = alertMessage({
      grantId: 'gr_gone',
      action: 'revoke',
      attempts: 99,
      error: '<!channel>'.repeat(10_000),
    });
    expectValid(message);
    expect(textOf(message)).toContain('*User*\nunknown');
    expect(textOf(message)).not.toContain('<!channel>');
  });
});
