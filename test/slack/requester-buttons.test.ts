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
      expect(String(answer.text)).toContain(`Cancelled \`${pendingId}\``);
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
    expect(text).toContain(`Cancelled \`${pendingId}\``);
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
      const update = await h.fake.waitFor((calls) =>
        calls.find((c) => c.method === 'views.update'),
      );
      expect(update.args.view_id).toBeDefined();
      return update.args.view as Record<string, unknown> & { blocks: { block_id?: string }[] };
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

    it('opens at once, fills in the resource bounds, and files the extension on submit', async () => {
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
      expect(textOf(publish.args.view)).toContain('30m more on *Auto approved*');
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

    it('refuses someone who does not hold the grant', async () => {
      const form = await openExtendForm('UOTHER');
      const answer = JSON.parse((await submit('UOTHER', form, '30m', JUST)).text);
      expect(answer.response_action).toBe('update');
      expect(textOf(answer.view)).toContain('is not yours to extend');
    });

    it('says so when the grant does not exist', async () => {
      grantId = 'gr_0000000000';
      const form = await openExtendForm('UREQ');
      expect(textOf(form.blocks)).toContain('No grant gr_0000000000');
      expect(form.submit).toBeUndefined();
    });

    it('tells the person when Slack will not open the form', async () => {
      h.fake.fail('views.open', { kind: 'status', status: 503 });
      const responseUrl = h.responseUrl();
      await press('UREQ', ACTIONS.extendGrant, grantId, { kind: 'message', responseUrl });
      expect(String((await h.responseTo(responseUrl)).text)).toContain('HTTP 503');
    });
  });
});
