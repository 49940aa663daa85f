import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import {
  buttonClick,
  viewOutput,
  viewSubmission,
  type ClickSource,
} from '../support/slack-requests';
import { slackHarness, textOf, type SlackHarness } from './harness';

const JUST = 'investigating INC-42 slow queries';

describe('Cancel, Revoke now and Extend buttons', () => {
  let h: SlackHarness;
  let pendingId: string;
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
  });
  afterEach(() => h.close());

  const requestStatus = () =>
    h.sql.value<string>('SELECT status FROM requests WHERE id = ?', pendingId);
  const grantStatus = () => h.sql.value<string>('SELECT status FROM grants WHERE id = ?', grantId);

  function press(userId: string, actionId: string, value: string, source: ClickSource) {
    return h.send.interaction(buttonClick({ userId, actionId, value, source }));
  }

  describe('on a DM', () => {
    /** Presses a button on a DM and returns the ephemeral answer's text. */
    async function pressOnDm(userId: string, actionId: string, value: string) {
      const responseUrl = h.responseUrl();
      await press(userId, actionId, value, { kind: 'message', responseUrl, channelId: 'DUREQ' });
      return h.responseTo(responseUrl);
    }

    it('cancels and answers ephemerally, leaving the DM as it is', async () => {
      const answer = await pressOnDm('UREQ', ACTIONS.cancelRequest, pendingId);
      expect(answer).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(String(answer.text)).toContain(
        `Cancelled your request for *Production database* (1 h) (\`${pendingId}\`).`,
      );
      expect(await requestStatus()).toBe('cancelled');
    });

    it('revokes now', async () => {
      const answer = await pressOnDm('UREQ', ACTIONS.revokeGrant, grantId);
      expect(String(answer.text)).toContain('Removing your access to *Auto approved*');
      expect(await grantStatus()).toBe('revoking');
      const audit = await h.sql.all(
        "SELECT actor FROM audit_events WHERE action = 'grant.revoke_requested'",
      );
      expect(audit).toEqual([{ actor: 'UREQ' }]);
    });

    it('refuses someone else’s request or grant: the clicker is the signed user', async () => {
      const cancel = await pressOnDm('UOTHER', ACTIONS.cancelRequest, pendingId);
      expect(String(cancel.text)).toContain('is not yours to cancel');
      const revoke = await pressOnDm('UOTHER', ACTIONS.revokeGrant, grantId);
      expect(String(revoke.text)).toContain('belongs to someone else');
      expect(await requestStatus()).toBe('pending');
      expect(await grantStatus()).toBe('active');
    });
  });

  it('refreshes the /jit list it was pressed on', async () => {
    const responseUrl = h.responseUrl();
    await press('UREQ', ACTIONS.cancelRequest, pendingId, { kind: 'ephemeral', responseUrl });
    const answer = await h.responseTo(responseUrl);
    expect(answer.replace_original).toBe(true);
    const text = textOf(answer.blocks);
    expect(text).toContain(`Cancelled your request for *Production database* (1 h)`);
    expect(text).toContain('Nothing is waiting for approval.');
    expect(JSON.stringify(answer.blocks)).toContain(`"value":"${grantId}"`);
  });

  it('redraws Home with the outcome when pressed there', async () => {
    await press('UREQ', ACTIONS.revokeGrant, grantId, { kind: 'home' });
    const publish = await h.fake.waitFor((calls) =>
      calls.find((c) => c.method === 'views.publish'),
    );
    expect(publish.args.user_id).toBe('UREQ');
    const text = textOf(publish.args.view);
    expect(text).toContain('Removing your access');
    expect(text).toContain('being removed');
  });

  describe('Extend', () => {
    async function openExtendForm(userId: string, source: ClickSource = { kind: 'home' }) {
      const click = buttonClick({ userId, actionId: ACTIONS.extendGrant, value: grantId, source });
      await h.send.interaction(click);
      const open = await h.fake.waitFor((calls) => calls.find((c) => c.method === 'views.open'));
      expect(open.args.trigger_id).toBe(click.trigger_id);
      return open.args.view as Record<string, unknown> & { blocks: { block_id?: string }[] };
    }

    /** Presses Extend on a DM and returns the ephemeral answer's text. */
    async function extendOnDm(userId: string) {
      const responseUrl = h.responseUrl();
      await press(userId, ACTIONS.extendGrant, grantId, { kind: 'message', responseUrl });
      return String((await h.responseTo(responseUrl)).text);
    }

    function submit(
      userId: string,
      view: Record<string, unknown>,
      duration: string,
      reason: string,
    ) {
      const values = {
        [`${BLOCKS.duration}:auto`]: {
          [ACTIONS.durationSelect]: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: duration }, value: duration },
          },
        },
        [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: reason } },
      };
      return h.send.interaction(
        viewSubmission({ userId, view: viewOutput(view, { id: 'VEXT00001', values }) }),
      );
    }

    it('opens with the resource bounds, and files the extension on submit', async () => {
      const form = await openExtendForm('UREQ');
      expect(form.callback_id).toBe(VIEWS.extend);
      expect(JSON.parse(String(form.private_metadata))).toEqual({ grantId, fromHome: true });
      expect(form.blocks.map((b) => b.block_id)).toContain(`${BLOCKS.duration}:auto`);
      expect(await submit('UREQ', form, '30m', JUST)).toEqual({ status: 200, text: '' });
      const rows = await h.sql.all(
        "SELECT requester, grant_id, duration_ms FROM requests WHERE kind = 'extension'",
      );
      expect(rows).toEqual([{ requester: 'UREQ', grant_id: grantId, duration_ms: 1_800_000 }]);
      const publish = await h.fake.waitFor((calls) =>
        calls.find((c) => c.method === 'views.publish'),
      );
      expect(textOf(publish.args.view)).toContain(
        'Your request for 30 min more on *Auto approved*',
      );
    });

    it('offers only durations that would be accepted: none past what the grant has room for', async () => {
      // auto allows 1 h in all; the grant already has 30 min of it.
      const form = await openExtendForm('UREQ');
      const input = form.blocks.find((b) => b.block_id === `${BLOCKS.duration}:auto`) as {
        element: { options: { value: string }[]; initial_option: { value: string } };
      };
      const values = input.element.options.map((o) => o.value);
      expect(input.element.initial_option.value).toBe('30m');
      expect(values).toEqual(['5m', '10m', '15m', '30m']);
      expect(textOf(form.blocks)).toContain('You can add up to 30 min (1 h in all');
      // The longest choice is accepted (and auto needs no approval, so it is applied at once).
      expect(await submit('UREQ', form, '30m', JUST)).toEqual({ status: 200, text: '' });
      expect(
        await h.sql.value('SELECT expires_at - starts_at FROM grants WHERE id = ?', grantId),
      ).toBe(3_600_000);
    });

    it('answers at once, without a form, when the grant has ended (an old DM)', async () => {
      await h.core.revokeGrant({ grantId, actor: 'UREQ' });
      await h.core.lifecycle.revoked([{ grantId, checked: true }]);
      const text = await extendOnDm('UREQ');
      expect(text).toContain(
        'Your access to *Auto approved* ended at 09:00 UTC, so there is nothing to extend.',
      );
      expect(text).toContain('`/jit request auto`');
      expect(h.fake.callsOf('views.open')).toEqual([]);
    });

    it('answers at once when the grant already has all the time its resource allows', async () => {
      await h.sql.run('UPDATE grants SET expires_at = starts_at + 3600000 WHERE id = ?', grantId);
      const text = await extendOnDm('UREQ');
      expect(text).toContain('already has all the time auto allows (1 h from its start)');
      expect(h.fake.callsOf('views.open')).toEqual([]);
    });

    it('shows refusals next to the field they are about', async () => {
      const form = await openExtendForm('UREQ');
      const tooLong = JSON.parse((await submit('UREQ', form, '2h', JUST)).text);
      expect(tooLong).toEqual({
        response_action: 'errors',
        errors: {
          [`${BLOCKS.duration}:auto`]: expect.stringContaining('outside what auto allows'),
        },
      });
      const short = JSON.parse((await submit('UREQ', form, '30m', 'more')).text);
      expect(short.errors).toEqual({
        [BLOCKS.reason]: expect.stringContaining('at least 10 characters'),
      });
      expect(await h.sql.value("SELECT count(*) FROM requests WHERE kind = 'extension'")).toBe(0);
    });

    it('refuses someone who does not hold the grant, at once', async () => {
      const text = await extendOnDm('UOTHER');
      expect(text).toContain("That access to *Auto approved* is someone else's");
      expect(h.fake.callsOf('views.open')).toEqual([]);
    });

    it('says so when the grant does not exist', async () => {
      grantId = 'gr_0000000000';
      expect(await extendOnDm('UREQ')).toContain('No grant gr_0000000000');
      expect(h.fake.callsOf('views.open')).toEqual([]);
    });

    it('tells the person when Slack will not open the form', async () => {
      h.fake.fail('views.open', { kind: 'status', status: 503 });
      expect(await extendOnDm('UREQ')).toContain('HTTP 503');
    });
  });
});
