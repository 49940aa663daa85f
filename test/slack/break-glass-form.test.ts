import { ACTIONS, BLOCKS } from '../../src/slack/ids';
import { BREAK_GLASS_VALUE } from '../../src/slack/ui/modals';
import { PEOPLE_CONFIG } from '../support/people';
import { selectInModal, viewOutput, viewSubmission } from '../support/slack-requests';
import { slackHarness, textOf, type SlackHarness } from './harness';

const WHY = 'primary is down, INC-911 failover';

type View = Record<string, unknown> & { blocks: Block[] };
type Block = Record<string, unknown> & { block_id?: string; element?: Record<string, unknown> };

/** The request form's clearly marked break-glass choice, through signed Slack requests. */
describe('break glass in the request form', () => {
  let h: SlackHarness;
  beforeEach(async () => {
    h = await slackHarness({ yaml: PEOPLE_CONFIG, usergroups: { SDBA: ['UDBA'], SSRE: ['USRE'] } });
  });
  afterEach(() => h.close());

  async function formFor(userId: string, resourceId: string): Promise<View> {
    await h.send.command({ userId, text: '', responseUrl: h.responseUrl() });
    const opened = await h.fake.waitFor((calls) => calls.find((c) => c.method === 'views.open'));
    const before = h.fake.calls.length;
    await h.send.interaction(
      selectInModal({
        userId,
        view: viewOutput(opened.args.view as View, { id: 'VREQ00001', hash: 'hash-1' }),
        blockId: BLOCKS.resource,
        actionId: ACTIONS.resourceSelect,
        value: resourceId,
      }),
    );
    const redrawn = await h.fake.waitFor((calls) =>
      calls.slice(before).find((c) => c.method === 'views.update' && c.args.hash === 'hash-1'),
    );
    return redrawn.args.view as View;
  }

  const glassBlock = (view: View) => view.blocks.find((b) => b.block_id === BLOCKS.breakGlass);

  function submit(userId: string, view: View, ticked: boolean, start?: string) {
    const duration = view.blocks.find((b) => b.block_id?.startsWith(`${BLOCKS.duration}:`))!;
    const option = (value: string) => ({ text: { type: 'plain_text', text: value }, value });
    const values: Record<string, Record<string, unknown>> = {
      [BLOCKS.resource]: {
        [ACTIONS.resourceSelect]: { type: 'static_select', selected_option: option('prod-db') },
      },
      [duration.block_id!]: {
        [ACTIONS.durationSelect]: { type: 'static_select', selected_option: option('30m') },
      },
      [BLOCKS.justification]: {
        [ACTIONS.justificationInput]: { type: 'plain_text_input', value: WHY },
      },
      [BLOCKS.ticket]: {
        [ACTIONS.ticketInput]: { type: 'plain_text_input', value: null },
      },
      ...(start
        ? { [BLOCKS.start]: { [ACTIONS.startInput]: { type: 'plain_text_input', value: start } } }
        : {}),
      [BLOCKS.breakGlass]: {
        [ACTIONS.breakGlassChoice]: {
          type: 'checkboxes',
          selected_options: ticked ? [option(BREAK_GLASS_VALUE)] : [],
        },
      },
    };
    return h.send.interaction(
      viewSubmission({ userId, view: viewOutput(view, { id: 'VREQ00001', values }) }),
    );
  }

  it('offers the choice only to those who may break the glass on the chosen resource', async () => {
    const allowed = await formFor('UONCALL', 'prod-db');
    expect(glassBlock(allowed)).toMatchObject({ optional: true });
    expect(textOf(allowed.blocks)).toContain('*Grant now, without approval* (at most 1h)');
    expect(textOf(allowed.blocks)).toContain('Every use is audited');
    expect(glassBlock(await formFor('ULEAD', 'prod-db'))).toBeUndefined();
  });

  it('breaks the glass when ticked, saying so loudly in the form', async () => {
    const form = await formFor('UONCALL', 'prod-db');
    const res = await submit('UONCALL', form, true);
    const answer = JSON.parse(res.text) as { response_action: string; view: View };
    expect(answer.response_action).toBe('update');
    expect(textOf(answer.view.blocks)).toContain('This use is audited');
    expect(await h.sql.all('SELECT user_id, resource_id FROM break_glass_uses')).toEqual([
      { user_id: 'UONCALL', resource_id: 'prod-db' },
    ]);
    expect(await h.sql.value('SELECT status FROM requests')).toBe('approved');
  });

  it('refuses a later start when ticked, on the start field, and records nothing', async () => {
    const form = await formFor('UONCALL', 'prod-db');
    const res = await submit('UONCALL', form, true, '23:30');
    expect(JSON.parse(res.text)).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCKS.start]: expect.stringContaining('Break-glass access starts at once') },
    });
    expect(await h.count('break_glass_uses')).toBe(0);
    expect(await h.count('grants')).toBe(0);
  });

  it('refuses a later start in /jit breakglass, and records nothing', async () => {
    const responseUrl = h.responseUrl();
    await h.send.command({
      userId: 'UONCALL',
      text: `breakglass prod-db 30m from 23:30 ${WHY}`,
      responseUrl,
    });
    expect((await h.responseTo(responseUrl)).text).toContain('Break-glass access starts at once');
    expect(await h.count('break_glass_uses')).toBe(0);
    expect(await h.count('grants')).toBe(0);
  });

  it('files an ordinary request when left unticked, under the resource’s own rules', async () => {
    const form = await formFor('UONCALL', 'prod-db');
    const res = await submit('UONCALL', form, false);
    // prod-db requires a ticket for requests; only break-glass goes without one.
    expect(JSON.parse(res.text)).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCKS.ticket]: expect.stringContaining('needs a ticket reference') },
    });
    expect(await h.count('break_glass_uses')).toBe(0);
    expect(await h.count('requests')).toBe(0);
  });
});
