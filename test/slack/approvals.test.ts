import type { RequestRow } from '../../src/core';
import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { FOREIGN_ACTION } from '../../src/slack/listeners/actions/foreign';
import { buttonClick, viewOutput, viewSubmission } from '../support/slack-requests';
import { slackHarness, textOf, waitUntil, type SlackHarness } from './harness';

const JUST = 'investigating INC-42 slow queries';

describe('approver buttons over signed HTTP', () => {
  let h: SlackHarness;
  beforeEach(async () => (h = await slackHarness()));
  afterEach(() => h.close());

  function request(resourceId = 'prod-db', requester = 'UREQ'): Promise<RequestRow> {
    return h.core.createRequest({ requester, resourceId, duration: '1h', justification: JUST });
  }

  function click(
    userId: string,
    actionId: string,
    value: string,
    headers?: Record<string, string>,
  ) {
    const responseUrl = h.responseUrl();
    const payload = buttonClick({
      userId,
      actionId,
      value,
      source: { kind: 'message', responseUrl, channelId: 'CDBA' },
    });
    return {
      payload,
      responseUrl,
      sent: h.send.interaction(payload, { headers }),
      reply: async () => String((await h.responseTo(responseUrl)).text),
    };
  }

  const statusOf = (id: string) =>
    h.sql.value<string>('SELECT status FROM requests WHERE id = ?', id);
  const approvals = (id: string) =>
    h.sql.all(
      'SELECT approver, decision, reason FROM approvals WHERE request_id = ? ORDER BY id',
      id,
    );
  /** The listener acks before it decides, so a test waits for the decision to land. */
  const settled = (id: string, n: number) =>
    waitUntil(async () => (await approvals(id)).length === n, `${n} decision(s) on ${id}`);
  const responsesTo = (url: string) =>
    h.fake.calls.filter((c) => c.method === url.slice(h.fake.url.length));

  it('approves: the request is approved, the grant created and the messages queued', async () => {
    const row = await request();
    const c = click('ULEAD', ACTIONS.approve, row.id);
    expect((await c.sent).status).toBe(200);
    await h.slack.stop();
    expect(await statusOf(row.id)).toBe('approved');
    expect(await h.count('grants')).toBe(1);
    const queued = await h.sql.all<{ topic: string; payload: string }>(
      "SELECT topic, payload FROM outbox WHERE key LIKE 'request.approved:%'",
    );
    expect(queued.map((q) => JSON.parse(q.payload))).toEqual([
      expect.objectContaining({ topic: 'requester_dm', event: 'request.approved', userId: 'UREQ' }),
    ]);
    // The approver message is updated through the outbox; the click itself gets no reply.
    expect(responsesTo(c.responseUrl)).toEqual([]);
    expect(h.fake.callsOf('chat.update')).toEqual([]);
  });

  it('accepts an approver who is in an approver user group (looked up in Slack)', async () => {
    const row = await request();
    await click('UDBA', ACTIONS.approve, row.id).sent;
    await h.slack.stop();
    expect(await statusOf(row.id)).toBe('approved');
    expect(h.fake.callsOf('usergroups.users.list').map((c) => c.args.usergroup)).toContain('SDBA');
  });

  it('tells a non-approver they are not one, and changes nothing', async () => {
    const row = await request();
    const c = click('UOTHER', ACTIONS.approve, row.id);
    expect(await c.reply()).toContain(
      'You are not an approver for Production database (prod-db), so your click changed nothing.',
    );
    expect(await statusOf(row.id)).toBe('pending');
    expect(await approvals(row.id)).toEqual([]);
  });

  it('refuses a requester approving their own request', async () => {
    const row = await request();
    const c = click('UREQ', ACTIONS.approve, row.id);
    expect(await c.reply()).toContain('You cannot approve your own request for prod-db');
    expect(await statusOf(row.id)).toBe('pending');
  });

  it('tells a late clicker who decided and when', async () => {
    const row = await request();
    await click('ULEAD', ACTIONS.approve, row.id).sent;
    await settled(row.id, 1);
    const late = click('UDBA', ACTIONS.approve, row.id);
    expect(await late.reply()).toBe(
      "<@UREQ>'s request for *Production database* (1 h) is already decided: ✅ Approved by <@ULEAD> at 09:00 UTC.",
    );
    expect(await approvals(row.id)).toEqual([
      { approver: 'ULEAD', decision: 'approve', reason: null },
    ]);
  });

  it('counts a double click once and says so', async () => {
    const row = await request('quorum');
    await click('UA1', ACTIONS.approve, row.id).sent;
    await settled(row.id, 1);
    const again = click('UA1', ACTIONS.approve, row.id);
    expect(await again.reply()).toBe(
      "You already approved <@UREQ>'s request for *Two-person rule* (1 h); nothing changed.",
    );
    expect(await statusOf(row.id)).toBe('pending');
    expect(await approvals(row.id)).toHaveLength(1);
  });

  it('ends with one grant when two approvers of a quorum of two click at once', async () => {
    const rows = await Promise.all([request('quorum'), request('quorum')]);
    for (const row of rows) {
      const both = [click('UA1', ACTIONS.approve, row.id), click('UA2', ACTIONS.approve, row.id)];
      const results = await Promise.all(both.map((c) => c.sent));
      expect(results.map((r) => r.status)).toEqual([200, 200]);
    }
    await h.slack.stop();
    for (const row of rows) {
      expect(await statusOf(row.id)).toBe('approved');
      expect(await approvals(row.id)).toHaveLength(2);
    }
    expect(await h.count('grants')).toBe(2);
  });

  it('never applies a retried delivery twice, and does not nag about it', async () => {
    const row = await request('quorum');
    const first = click('UA1', ACTIONS.approve, row.id);
    await first.sent;
    await settled(row.id, 1);
    const retry = await h.send.interaction(first.payload, {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(retry.status).toBe(200);
    await h.slack.stop();
    expect(await approvals(row.id)).toHaveLength(1);
    expect(responsesTo(first.responseUrl)).toEqual([]);
    expect(
      await h.sql.value("SELECT count(*) FROM audit_events WHERE action = 'approval.recorded'"),
    ).toBe(1);
  });

  // The click that completed the decision finds the request decided when Slack delivers it
  // again: its approver must not be told, as after a late click, that it "is already decided".
  it.each([
    ['alone decides', 'prod-db', ['ULEAD']],
    ['completes a quorum of two', 'quorum', ['UA1', 'UA2']],
  ])('answers nothing to a retried delivery of the approval that %s', async (_, resource, who) => {
    const row = await request(resource);
    let last!: ReturnType<typeof click>;
    for (const [i, approver] of who.entries()) {
      last = click(approver, ACTIONS.approve, row.id);
      await last.sent;
      await settled(row.id, i + 1);
    }
    await waitUntil(async () => (await statusOf(row.id)) === 'approved', 'the approval');
    const retry = await h.send.interaction(last.payload, {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
    expect(retry.status).toBe(200);
    await h.slack.stop();
    expect(await h.count('grants')).toBe(1);
    expect(responsesTo(last.responseUrl)).toEqual([]);
  });

  // A retry may be the only delivery of a new click that arrived: an approver whose approval is
  // on record, clicking again after a co-approver denied, must learn of the deny (and never
  // read "You approved" on Home).
  it.each([
    ['an approver message', 'message'],
    ['App Home', 'home'],
  ] as const)(
    'answers a retried Approve on %s for a request denied since the approval',
    async (_, where) => {
      const row = await request('quorum');
      await h.core.decide({ requestId: row.id, actor: 'UA1', decision: 'approve' });
      await h.core.decide({ requestId: row.id, actor: 'UA2', decision: 'deny', reason: 'freeze' });
      const responseUrl = h.responseUrl();
      const payload = buttonClick({
        userId: 'UA1',
        actionId: ACTIONS.approve,
        value: row.id,
        source:
          where === 'home' ? { kind: 'home' } : { kind: 'message', responseUrl, channelId: 'CDBA' },
      });
      const retry = await h.send.interaction(payload, {
        headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
      });
      expect(retry.status).toBe(200);
      const text =
        where === 'home'
          ? textOf(
              (await h.fake.waitFor((calls) => calls.find((c) => c.method === 'views.publish')))
                .args.view,
            )
          : String((await h.responseTo(responseUrl)).text);
      expect(text).toContain('is already decided');
      expect(text).toContain('<@UA2>');
      expect(text).not.toContain('You approved');
    },
  );

  it.each([
    ['an id with a user in it', (id: string) => JSON.stringify({ requestId: id, user: 'ULEAD' })],
    ['someone else’s name', () => 'ULEAD'],
    ['nothing', () => ''],
  ])('ignores a button value carrying %s', async (_, value) => {
    const row = await request();
    const c = click('UOTHER', ACTIONS.approve, value(row.id));
    expect(await c.reply()).toContain('That button is out of date or was not made by Hallpass');
    expect(await statusOf(row.id)).toBe('pending');
    expect(await approvals(row.id)).toEqual([]);
  });

  it('acks and ignores a click on an element Hallpass did not make', async () => {
    expect(Object.values(ACTIONS).filter((id) => FOREIGN_ACTION.test(id))).toEqual([]);
    const row = await request();
    const c = click('ULEAD', 'other_app.approve', row.id);
    expect(await c.sent).toEqual({ status: 200, text: '' });
    await h.slack.stop();
    expect(await statusOf(row.id)).toBe('pending');
    expect(responsesTo(c.responseUrl)).toEqual([]);
  });

  describe('deny', () => {
    async function openDenyForm(userId: string, requestId: string) {
      const c = click(userId, ACTIONS.deny, requestId);
      await c.sent;
      const open = await h.fake.waitFor((calls) => calls.find((x) => x.method === 'views.open'));
      expect(open.args.trigger_id).toBe(c.payload.trigger_id);
      return open.args.view as Record<string, unknown>;
    }

    function submit(userId: string, view: Record<string, unknown>, reason: string | null) {
      const values = {
        [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: reason } },
      };
      return h.send.interaction(
        viewSubmission({ userId, view: viewOutput(view, { id: 'VDENY0001', values }) }),
      );
    }

    it('opens a form for a reason, then denies with it', async () => {
      const row = await request();
      const form = await openDenyForm('ULEAD', row.id);
      expect(form.callback_id).toBe(VIEWS.deny);
      expect(textOf(form)).toContain("Deny <@UREQ>'s request for *Production database* (1 h)?");
      expect(textOf(form)).not.toContain(row.id);
      expect(JSON.parse(String(form.private_metadata))).toEqual({
        requestId: row.id,
        fromHome: false,
      });
      const res = await submit('ULEAD', form, 'not during the freeze');
      expect(res).toEqual({ status: 200, text: '' });
      expect(await statusOf(row.id)).toBe('denied');
      expect(await approvals(row.id)).toEqual([
        { approver: 'ULEAD', decision: 'deny', reason: 'not during the freeze' },
      ]);
      const dm = (await h.sql.get<{ payload: string }>(
        'SELECT payload FROM outbox WHERE key = ?',
        `request.denied:${row.id}:dm`,
      ))!;
      expect(JSON.parse(dm.payload)).toMatchObject({ event: 'request.denied', userId: 'UREQ' });
    });

    it('denies without a reason', async () => {
      const row = await request();
      await submit('ULEAD', await openDenyForm('ULEAD', row.id), null);
      expect(await approvals(row.id)).toEqual([
        { approver: 'ULEAD', decision: 'deny', reason: null },
      ]);
    });

    it('turns the form into a note when the submitter is not an approver', async () => {
      const row = await request();
      const form = await openDenyForm('UOTHER', row.id);
      const res = await submit('UOTHER', form, 'nope');
      const answer = JSON.parse(res.text) as { response_action: string; view: unknown };
      expect(answer.response_action).toBe('update');
      expect(textOf(answer.view)).toContain('You are not an approver for Production database');
      expect(await statusOf(row.id)).toBe('pending');
    });

    it('says who decided when the request was decided meanwhile', async () => {
      const row = await request();
      const form = await openDenyForm('UDBA', row.id);
      await click('ULEAD', ACTIONS.approve, row.id).sent;
      await settled(row.id, 1);
      const answer = JSON.parse((await submit('UDBA', form, 'too late')).text) as { view: unknown };
      expect(textOf(answer.view)).toContain('is already decided: ✅ Approved by <@ULEAD>');
      expect(await statusOf(row.id)).toBe('approved');
    });

    it('ignores an actor named in the form metadata: the signed user decides', async () => {
      const row = await request();
      const form = await openDenyForm('UOTHER', row.id);
      const forged = {
        ...form,
        private_metadata: JSON.stringify({ requestId: row.id, fromHome: false, actor: 'ULEAD' }),
      };
      const res = await submit('UOTHER', forged, 'forged');
      expect(textOf(JSON.parse(res.text))).toContain('This form is out of date');
      const honest = await submit('UOTHER', form, 'honest');
      expect(textOf(JSON.parse(honest.text))).toContain('You are not an approver');
      expect(await statusOf(row.id)).toBe('pending');
      expect(await approvals(row.id)).toEqual([]);
    });
  });
});
