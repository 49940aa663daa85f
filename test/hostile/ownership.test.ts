import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { slackHarness, textOf, type SlackHarness } from '../slack/harness';
import {
  buttonClick,
  viewOutput,
  viewSubmission,
  type ClickSource,
} from '../support/slack-requests';
import { captureLogs, snapshot, type CapturedLogs, type LogLine } from './support';

const JUST = 'investigating INC-42 slow queries';

/**
 * Signed requests from one person carrying ids of someone else's request or grant, or a user id
 * of their own choosing in a value, form metadata or form state. The actor is always the signed
 * payload's user: the bot answers them, logs a warning, and changes nothing.
 */
describe('acting on what is someone else’s, over signed HTTP', () => {
  let h: SlackHarness;
  let logs: CapturedLogs;
  /** UREQ's pending request for prod-db (approvers: ULEAD, UREQ, SDBA). */
  let pendingId: string;
  /** UREQ's active grant of `auto`. */
  let grantId: string;

  beforeEach(async () => {
    h = await slackHarness();
    pendingId = (
      await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      })
    ).id;
    const auto = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    grantId = (await h.core.grantOf(auto))!.id;
    const now = h.clock.now();
    const activation = {
      startsAt: now,
      expiresAt: now + 1_800_000,
      state: undefined,
      elapsedMs: 5,
    };
    expect(await h.core.lifecycle.activated(grantId, activation)).toBe(true);
    logs = captureLogs();
  });
  afterEach(async () => {
    await h.close();
    logs.stop();
  });

  /** What the clicker was told: the ephemeral reply, or their redrawn Home. */
  async function answerTo(userId: string, source: ClickSource): Promise<string> {
    if (source.kind === 'home') {
      const publish = await h.fake.waitFor((calls) =>
        calls.find((c) => c.method === 'views.publish'),
      );
      expect(publish.args.user_id).toBe(userId);
      return textOf(publish.args.view);
    }
    if (source.kind === 'modal') throw new Error('clicks here come from messages or Home');
    const reply = await h.responseTo(source.responseUrl);
    return reply.blocks ? textOf(reply.blocks) : String(reply.text);
  }

  /** Sends, waits for every listener to finish, and checks no table changed. */
  async function unchangedBy<T>(send: () => Promise<T>): Promise<T> {
    const before = await snapshot(h.sql);
    const result = await send();
    await h.slack.stop();
    expect(await snapshot(h.sql)).toEqual(before);
    return result;
  }

  const refusal = (code: string, actor: string) =>
    expect.objectContaining({ level: 'warn', message: 'slack action refused', code, actor });
  const warnings = () =>
    logs.warnings().map(({ timestamp: _, ...line }): LogLine => line as LogLine);

  const sources: [string, () => ClickSource][] = [
    ['a DM', () => ({ kind: 'message', responseUrl: h.responseUrl(), channelId: 'DUREQ' })],
    ['a /jit list answer', () => ({ kind: 'ephemeral', responseUrl: h.responseUrl() })],
    ['Home', () => ({ kind: 'home' })],
  ];

  describe.each(sources)('a button on %s', (_, sourceOf) => {
    it('Cancel with another person’s request id: refused, warned, nothing changes', async () => {
      const source = sourceOf();
      const text = await unchangedBy(async () => {
        const payload = buttonClick({
          userId: 'UOTHER',
          actionId: ACTIONS.cancelRequest,
          value: pendingId,
          source,
        });
        expect((await h.send.interaction(payload)).status).toBe(200);
        return answerTo('UOTHER', source);
      });
      expect(text).toContain(`Request ${pendingId} is not yours to cancel.`);
      expect(warnings()).toEqual([refusal('not_yours', 'UOTHER')]);
    });

    it('Revoke with another person’s grant id: refused, warned, nothing changes', async () => {
      const source = sourceOf();
      const text = await unchangedBy(async () => {
        const payload = buttonClick({
          userId: 'UOTHER',
          actionId: ACTIONS.revokeGrant,
          value: grantId,
          source,
        });
        expect((await h.send.interaction(payload)).status).toBe(200);
        return answerTo('UOTHER', source);
      });
      expect(text).toContain('belongs to someone else; only its holder or an admin can revoke it.');
      expect(text).toMatch(/The grant on \S.* \(gr_[0-9a-z]+\)/);
      expect(warnings()).toEqual([refusal('not_yours', 'UOTHER')]);
    });

    it('Extend with another person’s grant id: refused, warned, no form, nothing changes', async () => {
      const source = sourceOf();
      const text = await unchangedBy(async () => {
        const payload = buttonClick({
          userId: 'UOTHER',
          actionId: ACTIONS.extendGrant,
          value: grantId,
          source,
        });
        expect((await h.send.interaction(payload)).status).toBe(200);
        return answerTo('UOTHER', source);
      });
      expect(text).toContain("is someone else's; only its holder can ask for more time.");
      expect(h.fake.callsOf('views.open')).toHaveLength(0);
      expect(warnings()).toEqual([refusal('not_yours', 'UOTHER')]);
    });
  });

  it('lets an admin revoke the same grant with the same click (the setup can change things)', async () => {
    const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl() };
    await h.send.interaction(
      buttonClick({ userId: 'UADMIN', actionId: ACTIONS.revokeGrant, value: grantId, source }),
    );
    await answerTo('UADMIN', source);
    await h.slack.stop();
    const grant = await h.sql.get(
      'SELECT status, ended_by, end_reason FROM grants WHERE id = ?',
      grantId,
    );
    expect(grant).toEqual({
      status: 'revoking',
      ended_by: 'UADMIN',
      end_reason: 'revoked_by_admin',
    });
    expect(warnings()).toEqual([]);
  });

  it('Approve by someone who is not an approver', async () => {
    const source: ClickSource = {
      kind: 'message',
      responseUrl: h.responseUrl(),
      channelId: 'CDBA',
    };
    const text = await unchangedBy(async () => {
      await h.send.interaction(
        buttonClick({ userId: 'UOTHER', actionId: ACTIONS.approve, value: pendingId, source }),
      );
      return answerTo('UOTHER', source);
    });
    expect(text).toContain('You are not an approver for Production database (prod-db)');
    expect(warnings()).toEqual([refusal('not_approver', 'UOTHER')]);
  });

  it('Approve of one’s own request by a requester who is also an approver', async () => {
    const source: ClickSource = {
      kind: 'message',
      responseUrl: h.responseUrl(),
      channelId: 'CDBA',
    };
    const text = await unchangedBy(async () => {
      await h.send.interaction(
        buttonClick({ userId: 'UREQ', actionId: ACTIONS.approve, value: pendingId, source }),
      );
      return answerTo('UREQ', source);
    });
    expect(text).toContain('You cannot approve your own request for prod-db');
    expect(warnings()).toEqual([refusal('self_approval', 'UREQ')]);
  });

  it.each([
    ['cancel', () => `cancel ${pendingId}`, 'is not yours to cancel', 'not_yours'],
    ['revoke', () => `revoke ${grantId} because I can`, 'belongs to someone else', 'not_yours'],
    ['extend', () => `extend ${grantId} 30m ${JUST}`, 'is not yours to extend', 'not_yours'],
  ])('/jit %s with another person’s id', async (_, text, says, code) => {
    const responseUrl = h.responseUrl();
    const reply = await unchangedBy(async () => {
      await h.send.command({ userId: 'UOTHER', text: text(), responseUrl });
      return h.responseTo(responseUrl);
    });
    expect(reply.response_type).toBe('ephemeral');
    expect(String(reply.text)).toContain(says);
    expect(warnings()).toEqual([refusal(code, 'UOTHER')]);
  });

  function submit(userId: string, view: Record<string, unknown>, values: Record<string, unknown>) {
    return h.send.interaction(
      viewSubmission({ userId, view: viewOutput(view, { id: 'VFORM0001', values }) }),
    );
  }
  const reason = (text: string) => ({
    [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: text } },
  });
  const selected = (value: string) => ({
    type: 'static_select',
    selected_option: { text: { type: 'plain_text', text: value }, value },
  });

  it('a deny form whose metadata names a request the signed user does not approve', async () => {
    const form = {
      type: 'modal',
      callback_id: VIEWS.deny,
      private_metadata: JSON.stringify({ requestId: pendingId, fromHome: false }),
    };
    const res = await unchangedBy(() => submit('UOTHER', form, reason('nope')));
    expect(JSON.parse(res.text)).toMatchObject({ response_action: 'update' });
    expect(textOf(JSON.parse(res.text).view)).toContain('You are not an approver');
    expect(warnings()).toEqual([refusal('not_approver', 'UOTHER')]);
  });

  it('an extend form whose metadata names another person’s grant', async () => {
    const form = {
      type: 'modal',
      callback_id: VIEWS.extend,
      private_metadata: JSON.stringify({ grantId, fromHome: false }),
    };
    const values = {
      [`${BLOCKS.duration}:auto`]: { [ACTIONS.durationSelect]: selected('30m') },
      ...reason(JUST),
    };
    const res = await unchangedBy(() => submit('UOTHER', form, values));
    expect(textOf(JSON.parse(res.text).view)).toContain('is not yours to extend');
    expect(warnings()).toEqual([refusal('not_yours', 'UOTHER')]);
  });

  describe('a user id chosen by the sender', () => {
    it.each([
      ['a JSON value naming an admin', () => JSON.stringify({ user: 'UADMIN', grantId })],
      ['a user id as the value', () => 'UADMIN'],
      ['the grant id with a user appended', () => `${grantId}:UADMIN`],
    ])('in a Revoke button value (%s) is refused as a stale button', async (_, value) => {
      const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl() };
      const text = await unchangedBy(async () => {
        await h.send.interaction(
          buttonClick({ userId: 'UOTHER', actionId: ACTIONS.revokeGrant, value: value(), source }),
        );
        return answerTo('UOTHER', source);
      });
      expect(text).toContain('That button is out of date or was not made by Hallpass');
      expect(warnings()).toEqual([
        expect.objectContaining({ message: 'slack button value rejected', userId: 'UOTHER' }),
      ]);
    });

    it('inside the clicked action or the payload’s other fields changes nothing', async () => {
      const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl() };
      const payload = buttonClick({
        userId: 'UOTHER',
        actionId: ACTIONS.revokeGrant,
        value: grantId,
        source,
      });
      const [action] = payload.actions as Record<string, unknown>[];
      const forged = {
        ...payload,
        actions: [{ ...action, user: 'UADMIN', user_id: 'UADMIN' }],
        user_id: 'UADMIN',
        message: { ...(payload.message as object), user: 'UADMIN' },
      };
      const text = await unchangedBy(async () => {
        await h.send.interaction(forged);
        return answerTo('UOTHER', source);
      });
      expect(text).toContain('belongs to someone else');
      expect(warnings()).toEqual([refusal('not_yours', 'UOTHER')]);
    });

    it('in deny form metadata makes the form out of date', async () => {
      const form = {
        type: 'modal',
        callback_id: VIEWS.deny,
        private_metadata: JSON.stringify({ requestId: pendingId, fromHome: false, user: 'ULEAD' }),
      };
      const res = await unchangedBy(() => submit('UOTHER', form, reason('nope')));
      expect(textOf(JSON.parse(res.text).view)).toContain('This form is out of date');
      expect(warnings()).toEqual([
        expect.objectContaining({
          message: 'deny form with unreadable metadata',
          userId: 'UOTHER',
        }),
      ]);
    });

    it('in extend form metadata makes the form out of date', async () => {
      const form = {
        type: 'modal',
        callback_id: VIEWS.extend,
        private_metadata: JSON.stringify({ grantId, fromHome: false, actor: 'UREQ' }),
      };
      const values = {
        [`${BLOCKS.duration}:auto`]: { [ACTIONS.durationSelect]: selected('30m') },
        ...reason(JUST),
      };
      const res = await unchangedBy(() => submit('UREQ', form, values));
      expect(textOf(JSON.parse(res.text).view)).toContain('This form is out of date');
      expect(warnings()).toEqual([
        expect.objectContaining({ message: 'extend form without its grant or duration' }),
      ]);
    });

    const requestForm = (metadata: unknown) => ({
      type: 'modal',
      callback_id: VIEWS.request,
      private_metadata: JSON.stringify(metadata),
    });
    const requestValues = (resourceId: string, extra: Record<string, unknown> = {}) => ({
      [BLOCKS.resource]: { [ACTIONS.resourceSelect]: selected(resourceId) },
      [`${BLOCKS.duration}:${resourceId}`]: { [ACTIONS.durationSelect]: selected('30m') },
      [BLOCKS.justification]: {
        [ACTIONS.justificationInput]: { type: 'plain_text_input', value: JUST },
      },
      [BLOCKS.ticket]: { [ACTIONS.ticketInput]: { type: 'plain_text_input', value: 'OPS-1' } },
      ...extra,
    });
    const forgedState = {
      requester: { 'hallpass.requester': { type: 'plain_text_input', value: 'UREQ' } },
      user: { id: { type: 'plain_text_input', value: 'UREQ' } },
    };

    it('in request form state does not make them someone who may request', async () => {
      const res = await unchangedBy(() =>
        submit('UOTHER', requestForm({ fromHome: false }), requestValues('ticketed', forgedState)),
      );
      expect(JSON.parse(res.text)).toEqual({
        response_action: 'errors',
        errors: {
          [BLOCKS.resource]: expect.stringContaining('You are not allowed to request ticketed'),
        },
      });
      expect(warnings()).toEqual([refusal('not_allowed', 'UOTHER')]);
    });

    it('in request form metadata or state files the request as the signed user, with a warning', async () => {
      const metadata = { fromHome: false, user: 'UADMIN', requester: 'UREQ' };
      const res = await submit(
        'UOTHER',
        requestForm(metadata),
        requestValues('prod-db', forgedState),
      );
      expect(res).toEqual({ status: 200, text: '' });
      await h.slack.stop();
      const filed = await h.sql.all(
        "SELECT requester FROM requests WHERE client_key = 'view:VFORM0001'",
      );
      expect(filed).toEqual([{ requester: 'UOTHER' }]);
      const actors = await h.sql.all(
        "SELECT DISTINCT actor FROM audit_events WHERE action = 'request.created' AND request_id IN (SELECT id FROM requests WHERE client_key = 'view:VFORM0001')",
      );
      expect(actors).toEqual([{ actor: 'UOTHER' }]);
      expect(warnings()).toEqual([
        expect.objectContaining({
          message: 'request form with unreadable metadata',
          userId: 'UOTHER',
        }),
      ]);
    });
  });
});
