import { ACTIONS, VIEWS } from '../../src/slack/ids';
import { callsAfter, slackHarness, textOf, type SlackHarness } from './harness';

const JUST = 'investigating INC-42 slow queries';

describe('/jit over signed HTTP', () => {
  let h: SlackHarness;
  beforeEach(async () => (h = await slackHarness()));
  afterEach(() => h.close());

  async function jit(userId: string, text: string, triggerId?: string) {
    const responseUrl = h.responseUrl();
    const res = await h.send.command({ userId, text, responseUrl, triggerId });
    expect(res.status).toBe(200);
    return { res, reply: () => h.responseTo(responseUrl) };
  }

  describe('request', () => {
    it('files the request, acks at once and answers the caller only', async () => {
      const { res, reply } = await jit('UREQ', `request prod-db 2h ${JUST}`);
      expect(res.text).toBe('');
      const answer = await reply();
      expect(answer.response_type).toBe('ephemeral');
      const row = (await h.sql.get('SELECT * FROM requests'))!;
      expect(row).toMatchObject({
        requester: 'UREQ',
        resource_id: 'prod-db',
        duration_ms: 7_200_000,
        justification: JUST,
        status: 'pending',
      });
      expect(answer.text).toContain(String(row.id));
      expect(textOf(answer.blocks)).toContain('<#CDBA>');
      const topics = await h.sql.all('SELECT topic FROM outbox ORDER BY id');
      expect(topics).toEqual([{ topic: 'requester_dm' }, { topic: 'approver_message' }]);
      expect(h.fake.callsOf('chat.postMessage')).toEqual([]);
      expect(h.fake.callsOf('chat.postEphemeral')).toEqual([]);
    });

    it('takes ticket:REF out of the justification', async () => {
      const { reply } = await jit('UREQ', `request ticketed 30m ${JUST} ticket:OPS-12`);
      await reply();
      const row = await h.sql.get('SELECT justification, ticket FROM requests');
      expect(row).toEqual({ justification: JUST, ticket: 'OPS-12' });
    });

    it('says when the request was approved automatically', async () => {
      const { reply } = await jit('UREQ', `request auto 30m ${JUST}`);
      const text = String((await reply()).text);
      expect(text).toContain('✅ Your request for *Auto approved* (30 min) needs no approval');
      expect(text).toContain("I'll DM you as soon as the access is ready.");
      expect(await h.count('grants')).toBe(1);
    });

    it.each([
      ['request', 'Say which resource you need.'],
      ['request prod-db', 'Say for how long you need prod-db.'],
      ['request prod-db 2h', 'Say why you need it'],
      ['request prod-dbb 2h ' + JUST, 'Unknown resource "prod-dbb". Did you mean prod-db?'],
      ['request prod-db forever ' + JUST, '"forever" is not a duration'],
      ['request prod-db 9h ' + JUST, '9h is outside what prod-db allows'],
      ['request prod-db 1h short', 'at least 10 characters'],
      ['request ticketed 30m ' + JUST, 'ticketed needs a ticket reference'],
      [
        'request ticketed 30m ' + JUST + ' ticket:nope',
        '"nope" is not a ticket reference ticketed accepts; it takes one like ABC-123.',
      ],
    ])('refuses `/jit %s` with a message saying how to fix it', async (text, expected) => {
      const { reply } = await jit('UREQ', text);
      const answer = await reply();
      expect(answer.response_type).toBe('ephemeral');
      expect(String(answer.text)).toContain(expected);
      expect(await h.count('requests')).toBe(0);
      expect(await h.count('outbox')).toBe(0);
      expect(await h.count('audit_events')).toBe(0);
    });

    it('shows how a ticket is written, with the caller’s own command completed, not the raw pattern', async () => {
      const { reply } = await jit('UREQ', `request ticketed 30m ${JUST}`);
      const text = String((await reply()).text);
      expect(text).toContain('ticketed needs a ticket reference, like ABC-123.');
      expect(text).toContain('Add it anywhere after the duration as `ticket:ABC-123`');
      expect(text).toContain(`\`/jit request ticketed 30m ${JUST} ticket:ABC-123\``);
      expect(text).not.toContain('[A-Z]');
    });

    it('suggests the id meant when a slip is early in a longer one', async () => {
      const { reply } = await jit('UREQ', `request ticketes 30m ${JUST}`);
      expect(String((await reply()).text)).toContain('Did you mean ticketed?');
    });

    it('refuses someone outside the requesters, naming the channel to ask in', async () => {
      const { reply } = await jit('UOTHER', `request ticketed 30m ${JUST} ticket:OPS-1`);
      expect(String((await reply()).text)).toContain('not allowed to request ticketed');
      expect(await h.count('requests')).toBe(0);
    });

    it('lets a member of a requester user group request (looked up in Slack)', async () => {
      const { reply } = await jit('UENG', `request ticketed 30m ${JUST} ticket:OPS-1`);
      await reply();
      expect(await h.count('requests')).toBe(1);
      expect(h.fake.callsOf('usergroups.users.list')[0]?.args).toMatchObject({ usergroup: 'SENG' });
    });
  });

  describe('list, cancel, revoke, extend', () => {
    async function pendingAndActive() {
      const pending = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      });
      const auto = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'auto',
        duration: '30m',
        justification: JUST,
      });
      const grant = (await h.core.grantOf(auto))!;
      const now = h.clock.now();
      expect(
        await h.core.lifecycle.activated(grant.id, {
          startsAt: now,
          expiresAt: now + 1_800_000,
          state: undefined,
          elapsedMs: 5,
        }),
      ).toBe(true);
      return { pending, grantId: grant.id };
    }

    it('lists pending requests and active grants with their buttons', async () => {
      const { pending, grantId } = await pendingAndActive();
      for (const text of ['list', 'status', 'LIST']) {
        const { reply } = await jit('UREQ', text);
        const answer = await reply();
        expect(answer.response_type).toBe('ephemeral');
        const blocks = JSON.stringify(answer.blocks);
        expect(blocks).toContain(`"action_id":"${ACTIONS.cancelRequest}","value":"${pending.id}"`);
        expect(blocks).toContain(`"action_id":"${ACTIONS.revokeGrant}","value":"${grantId}"`);
        expect(blocks).toContain(`"action_id":"${ACTIONS.extendGrant}","value":"${grantId}"`);
        expect(textOf(answer.blocks)).toContain('30 min left');
        expect(String(answer.text)).toContain('1 grant, 1 pending request');
      }
    });

    it('writes times in the zone the caller set in Slack, and the configured one otherwise', async () => {
      h.fake.timezones.UREQ = 'Europe/Berlin';
      await pendingAndActive();
      const mine = await jit('UREQ', 'list');
      expect(textOf((await mine.reply()).blocks)).toContain('active until 10:30 Europe/Berlin');
      h.fake.timezones.UREQ = 'Not/AZone';
      h.clock.advance(2 * 3_600_000);
      const fallback = await jit('UREQ', 'list');
      expect(textOf((await fallback.reply()).blocks)).toContain(
        '*Production database* for 1 h · asked 09:00 UTC',
      );
    });

    it('cancels a pending request, and refuses to cancel someone else’s', async () => {
      const { pending } = await pendingAndActive();
      const other = await jit('ULEAD', `cancel ${pending.id}`);
      expect(String((await other.reply()).text)).toContain('is not yours to cancel');
      const mine = await jit('UREQ', `cancel ${pending.id}`);
      expect(String((await mine.reply()).text)).toContain(
        `Cancelled your request for *Production database* (1 h) (\`${pending.id}\`).`,
      );
      const status = await h.sql.get('SELECT status FROM requests WHERE id = ?', pending.id);
      expect(status).toEqual({ status: 'cancelled' });
    });

    it('revokes a grant with a note', async () => {
      const { grantId } = await pendingAndActive();
      const { reply } = await jit('UREQ', `revoke ${grantId} done early`);
      expect(String((await reply()).text)).toContain('Removing your access');
      const row = await h.sql.get(
        'SELECT status, end_note, ended_by FROM grants WHERE id = ?',
        grantId,
      );
      expect(row).toEqual({ status: 'revoking', end_note: 'done early', ended_by: 'UREQ' });
    });

    it('asks for an extension and validates it in the core', async () => {
      const { grantId } = await pendingAndActive();
      const bad = await jit('UREQ', `extend ${grantId} 3h ${JUST}`);
      expect(String((await bad.reply()).text)).toContain('outside what auto allows');
      const good = await jit('UREQ', `extend ${grantId} 30m ${JUST}`);
      expect(String((await good.reply()).text)).toMatch(
        /more on .* needs no approval: your access runs longer, and your DM says until when\./,
      );
      const rows = await h.sql.all(
        "SELECT kind, grant_id, status FROM requests WHERE kind = 'extension'",
      );
      expect(rows).toEqual([{ kind: 'extension', grant_id: grantId, status: 'approved' }]);
    });

    it.each([
      ['cancel', 'Say which request'],
      ['revoke', 'Say which grant'],
      ['extend', 'Say which grant to extend'],
      ['extend gr_0000000000', 'Say how much more time'],
      ['extend gr_0000000000 1h', 'Say why you need more time'],
      ['cancel req_nope', 'No request req_nope'],
      ['revoke gr_nope', 'No grant gr_nope'],
    ])('answers `/jit %s` with what is missing', async (text, expected) => {
      const { reply } = await jit('UREQ', text);
      expect(String((await reply()).text)).toContain(expected);
    });
  });

  it('lists what the caller may request, with durations and approvers', async () => {
    const { reply } = await jit('UOTHER', 'resources');
    const text = textOf((await reply()).blocks);
    expect(text).toContain('`prod-db`');
    expect(text).toContain('Up to 4 h');
    expect(text).toContain('<@ULEAD>, <@UREQ>, <!subteam^SDBA>');
    expect(text).toContain('approved automatically');
    expect(text).not.toContain('`ticketed`');
  });

  it('answers help with every subcommand', async () => {
    const { reply } = await jit('UREQ', 'help');
    const text = textOf((await reply()).blocks);
    for (const sub of ['request', 'list', 'cancel', 'revoke', 'extend', 'resources', 'help']) {
      expect(text).toContain(`/jit ${sub}`);
    }
  });

  it('answers an unknown subcommand with a suggestion', async () => {
    const { reply } = await jit('UREQ', 'lsit');
    const text = String((await reply()).text);
    expect(text).toContain('`/jit lsit` is not a Hallpass command');
    expect(text).toContain('Did you mean `/jit list`?');
  });

  describe('with no text', () => {
    it('opens the request form with the trigger id before any other Slack call', async () => {
      const before = h.fake.calls.length;
      await jit('UOTHER', '', 'trigger.for.test');
      await h.fake.waitFor((calls) => calls.some((c) => c.method === 'views.update'));
      const calls = callsAfter(h.fake, before);
      expect(calls[0]).toMatchObject({
        method: 'views.open',
        args: { trigger_id: 'trigger.for.test' },
      });
      const opened = calls[0]!.args.view as Record<string, unknown>;
      expect(opened.callback_id).toBe(VIEWS.request);
      // UOTHER may not request `ticketed` (a requester group is looked up after the form is
      // open), so the form is narrowed in place.
      const update = h.fake.callsOf('views.update')[0]!.args;
      expect(update.view_id).toBeDefined();
      expect(update.hash).toBeDefined();
      expect(JSON.stringify(opened)).toContain('"value":"ticketed"');
      expect(JSON.stringify(update.view)).not.toContain('"value":"ticketed"');
    });

    it('does not update the form when the caller may request everything', async () => {
      const before = h.fake.calls.length;
      await jit('UREQ', '');
      await h.slack.stop(); // waits for the listener to finish
      expect(callsAfter(h.fake, before).map((c) => c.method)).toEqual(['views.open']);
    });

    it.each([
      [{ kind: 'ratelimited' as const, retryAfter: 7 }, 'Try again in 7 seconds'],
      [{ kind: 'status' as const, status: 500 }, 'HTTP 500'],
      [{ kind: 'error' as const, error: 'expired_trigger_id' }, 'closed before Hallpass got to it'],
    ])('tells the caller when Slack refuses to open the form (%o)', async (fault, expected) => {
      h.fake.fail('views.open', fault);
      const { reply } = await jit('UREQ', '');
      const answer = await reply();
      expect(answer.response_type).toBe('ephemeral');
      expect(String(answer.text)).toContain(expected);
      expect(String(answer.text)).toContain('/jit request');
      expect(h.fake.callsOf('views.open')).toHaveLength(1);
      // The app is still serving.
      const after = await jit('UREQ', 'help');
      await after.reply();
    });
  });
});
