import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import {
  blockSuggestion,
  buttonClick,
  selectInModal,
  viewOutput,
  viewSubmission,
} from '../support/slack-requests';
import { slackHarness, textOf, type SlackHarness } from './harness';

const JUST = 'investigating INC-42 slow queries';

type View = Record<string, unknown> & { blocks: Block[] };
type Block = Record<string, unknown> & { block_id?: string; element?: Record<string, unknown> };

function block(view: View, blockId: string): Block | undefined {
  return view.blocks.find((b) => b.block_id === blockId);
}

function optionValues(element: Record<string, unknown> | undefined): string[] {
  const groups = (element?.option_groups as { options: { value: string }[] }[] | undefined) ?? [];
  const options = (element?.options as { value: string }[] | undefined) ?? [];
  return [...options, ...groups.flatMap((g) => g.options)].map((o) => o.value);
}

describe('the request form', () => {
  let h: SlackHarness;
  afterEach(() => h.close());

  async function openForm(userId = 'UREQ'): Promise<View> {
    const before = h.fake.callsOf('views.open').length;
    await h.send.command({ userId, text: '', responseUrl: h.responseUrl() });
    const call = await h.fake.waitFor(
      (calls) => calls.filter((c) => c.method === 'views.open')[before],
    );
    return call.args.view as View;
  }

  /** Chooses a resource as Slack would report it, and returns the redrawn form. */
  async function choose(userId: string, view: View, resourceId: string): Promise<View> {
    const before = h.fake.calls.length;
    const res = await h.send.interaction(
      selectInModal({
        userId,
        view: viewOutput(view, { id: 'VREQ00001', hash: 'hash-1' }),
        blockId: BLOCKS.resource,
        actionId: ACTIONS.resourceSelect,
        value: resourceId,
      }),
    );
    expect(res.status).toBe(200);
    // Only this redraw names the view id and hash the payload carried (opening the form may
    // also narrow it, on the id Slack gave it).
    const call = await h.fake.waitFor((calls) =>
      calls
        .slice(before)
        .find(
          (c) =>
            c.method === 'views.update' &&
            c.args.view_id === 'VREQ00001' &&
            c.args.hash === 'hash-1',
        ),
    );
    return call.args.view as View;
  }

  function submit(
    userId: string,
    view: View,
    values: Record<string, string | undefined>,
    viewId = 'VREQ00001',
  ) {
    const state: Record<string, Record<string, unknown>> = {};
    const put = (blockId: string, actionId: string, input: Record<string, unknown>) =>
      (state[blockId] = { [actionId]: input });
    if (values.resource !== undefined)
      put(BLOCKS.resource, ACTIONS.resourceSelect, {
        type: 'static_select',
        selected_option: {
          text: { type: 'plain_text', text: values.resource },
          value: values.resource,
        },
      });
    const durationBlock = view.blocks.find((b) => b.block_id?.startsWith(`${BLOCKS.duration}:`));
    if (durationBlock && values.duration !== undefined)
      put(durationBlock.block_id!, ACTIONS.durationSelect, {
        type: 'static_select',
        selected_option: {
          text: { type: 'plain_text', text: values.duration },
          value: values.duration,
        },
      });
    put(BLOCKS.justification, ACTIONS.justificationInput, {
      type: 'plain_text_input',
      value: values.justification ?? null,
    });
    if (block(view, BLOCKS.ticket))
      put(BLOCKS.ticket, ACTIONS.ticketInput, {
        type: 'plain_text_input',
        value: values.ticket ?? null,
      });
    return h.send.interaction(
      viewSubmission({ userId, view: viewOutput(view, { id: viewId, values: state }) }),
    );
  }

  describe('with a few resources', () => {
    beforeEach(async () => (h = await slackHarness()));

    it('starts with a resource select that redraws the form when a resource is chosen', async () => {
      const form = await openForm();
      expect(form.callback_id).toBe(VIEWS.request);
      const select = block(form, BLOCKS.resource)!;
      expect(select.dispatch_action).toBe(true);
      expect(optionValues(select.element)).toEqual([
        'prod-db',
        'quorum',
        'self-ok',
        'auto',
        'ticketed',
      ]);
      expect(form.blocks.some((b) => b.block_id?.startsWith(BLOCKS.duration))).toBe(false);

      const prodDb = await choose('UREQ', form, 'prod-db');
      const duration = block(prodDb, `${BLOCKS.duration}:prod-db`)!;
      expect(optionValues(duration.element)).toEqual([
        '5m',
        '10m',
        '15m',
        '30m',
        '45m',
        '1h',
        '1h30m',
        '2h',
        '3h',
        '4h',
      ]);
      expect(duration.element!.initial_option).toMatchObject({ value: '1h' });
      expect(block(prodDb, BLOCKS.resource)!.element!.initial_option).toMatchObject({
        value: 'prod-db',
      });
      expect(block(prodDb, BLOCKS.ticket)).toBeUndefined();
      expect(textOf(prodDb.blocks)).toContain(
        '1 approval from <@ULEAD>, <@UREQ>, <!subteam^SDBA> in <#CDBA>',
      );

      const ticketed = await choose('UREQ', prodDb, 'ticketed');
      expect(block(ticketed, `${BLOCKS.duration}:prod-db`)).toBeUndefined();
      const shorter = block(ticketed, `${BLOCKS.duration}:ticketed`)!;
      expect(optionValues(shorter.element)).toEqual(['5m', '10m', '15m', '30m', '45m', '1h']);
      expect(shorter.element!.initial_option).toMatchObject({ value: '1h' });
      expect(block(ticketed, BLOCKS.ticket)).toMatchObject({ optional: false });
    });

    it('says so when the chosen resource is not one the person may request', async () => {
      const form = await openForm('UOTHER');
      const redrawn = await choose('UOTHER', form, 'ticketed');
      expect(textOf(redrawn.blocks)).toContain('You cannot request ticketed');
      expect(optionValues(block(redrawn, BLOCKS.resource)!.element)).not.toContain('ticketed');
    });

    it('files the request on submit and closes; a second submit of the same form files nothing more', async () => {
      const form = await choose('UREQ', await openForm(), 'prod-db');
      const values = { resource: 'prod-db', duration: '2h', justification: JUST };
      expect(await submit('UREQ', form, values)).toEqual({ status: 200, text: '' });
      expect(await submit('UREQ', form, values)).toEqual({ status: 200, text: '' });
      const rows = await h.sql.all(
        'SELECT requester, resource_id, duration_ms, client_key FROM requests',
      );
      expect(rows).toEqual([
        {
          requester: 'UREQ',
          resource_id: 'prod-db',
          duration_ms: 7_200_000,
          client_key: 'view:VREQ00001',
        },
      ]);
    });

    it.each([
      ['no resource', { resource: undefined }, BLOCKS.resource, 'Choose a resource.'],
      [
        'an unknown resource',
        { resource: 'prod-dbb' },
        BLOCKS.resource,
        'Unknown resource "prod-dbb". Did you mean prod-db?',
      ],
      [
        'a duration out of bounds',
        { duration: '9h' },
        `${BLOCKS.duration}:prod-db`,
        '9h is outside what prod-db allows',
      ],
      [
        'a short justification',
        { justification: 'because' },
        BLOCKS.justification,
        'at least 10 characters (you wrote 7)',
      ],
      [
        'an empty justification',
        { justification: undefined },
        BLOCKS.justification,
        'at least 10 characters (you wrote 0)',
      ],
    ])(
      'keeps the form open with an error next to the field for %s',
      async (_, change, blockId, message) => {
        const form = await choose('UREQ', await openForm(), 'prod-db');
        const res = await submit('UREQ', form, {
          resource: 'prod-db',
          duration: '1h',
          justification: JUST,
          ...change,
        });
        expect(res.status).toBe(200);
        const answer = JSON.parse(res.text) as {
          response_action: string;
          errors: Record<string, string>;
        };
        expect(answer.response_action).toBe('errors');
        expect(Object.keys(answer.errors)).toEqual([blockId]);
        expect(answer.errors[blockId]).toContain(message);
        expect(await h.count('requests')).toBe(0);
      },
    );

    it('puts ticket errors on the ticket field', async () => {
      const form = await choose('UREQ', await openForm(), 'ticketed');
      const values = { resource: 'ticketed', duration: '30m', justification: JUST };
      const missing = JSON.parse((await submit('UREQ', form, values)).text);
      expect(missing.errors).toEqual({
        [BLOCKS.ticket]: expect.stringContaining('needs a ticket reference'),
      });
      const wrong = JSON.parse((await submit('UREQ', form, { ...values, ticket: 'nope' })).text);
      expect(wrong.errors).toEqual({
        [BLOCKS.ticket]:
          '"nope" is not a ticket reference ticketed accepts; it takes one like ABC-123.',
      });
      expect(await submit('UREQ', form, { ...values, ticket: 'OPS-7' })).toEqual({
        status: 200,
        text: '',
      });
      expect(await h.sql.all('SELECT ticket FROM requests')).toEqual([{ ticket: 'OPS-7' }]);
    });

    it('reports every invalid field at once, each next to its own', async () => {
      const form = await choose('UREQ', await openForm(), 'ticketed');
      const values = {
        resource: 'ticketed',
        duration: '9h',
        justification: 'because',
        ticket: 'nope',
      };
      const answer = JSON.parse((await submit('UREQ', form, values)).text) as {
        response_action: string;
        errors: Record<string, string>;
      };
      expect(answer.response_action).toBe('errors');
      expect(answer.errors).toEqual({
        [`${BLOCKS.duration}:ticketed`]: expect.stringContaining(
          '9h is outside what ticketed allows',
        ),
        [BLOCKS.ticket]: expect.stringContaining('"nope" is not a ticket reference'),
        [BLOCKS.justification]: expect.stringContaining('at least 10 characters (you wrote 7)'),
      });
      expect(await h.count('requests')).toBe(0);
      expect(await h.count('audit_events')).toBe(0);
    });

    it('hints at a ticket with an example, not the raw pattern', async () => {
      const form = await choose('UREQ', await openForm(), 'ticketed');
      const ticket = block(form, BLOCKS.ticket)!;
      expect(JSON.stringify(ticket)).toContain('A reference like ABC-123');
      expect(JSON.stringify(ticket)).not.toContain('[A-Z]');
    });

    it('shows durations as people read them, with values the core parses', async () => {
      const form = await choose('UREQ', await openForm(), 'prod-db');
      const duration = block(form, `${BLOCKS.duration}:prod-db`)!;
      const json = JSON.stringify(duration);
      expect(json).toContain('{"text":{"type":"plain_text","text":"1 h 30 min"},"value":"1h30m"}');
    });

    it('puts "not allowed" on the resource field', async () => {
      const form = await choose('UREQ', await openForm(), 'ticketed');
      const values = {
        resource: 'ticketed',
        duration: '30m',
        justification: JUST,
        ticket: 'OPS-7',
      };
      const answer = JSON.parse((await submit('UOTHER', form, values)).text);
      expect(answer.errors).toEqual({
        [BLOCKS.resource]: expect.stringContaining('not allowed to request ticketed'),
      });
      expect(await h.count('requests')).toBe(0);
    });

    it('opens from Home and redraws Home with the outcome after submit', async () => {
      const res = await h.send.interaction(
        buttonClick({
          userId: 'UREQ',
          actionId: ACTIONS.openRequestModal,
          value: 'home',
          source: { kind: 'home' },
        }),
      );
      expect(res.status).toBe(200);
      const open = await h.fake.waitFor((calls) => calls.find((c) => c.method === 'views.open'));
      const form = open.args.view as View;
      expect(JSON.parse(String(form.private_metadata))).toEqual({ fromHome: true });
      const chosen = await choose('UREQ', form, 'prod-db');
      expect(JSON.parse(String(chosen.private_metadata))).toEqual({ fromHome: true });
      await submit('UREQ', chosen, { resource: 'prod-db', duration: '1h', justification: JUST });
      const publish = await h.fake.waitFor((calls) =>
        calls.find((c) => c.method === 'views.publish'),
      );
      expect(publish.args.user_id).toBe('UREQ');
      expect(textOf(publish.args.view)).toContain(
        '📨 Your request for *Production database* (1 h) is with the approvers in <#CDBA>.',
      );
    });
  });

  describe('with more resources than a static select holds', () => {
    const many = Array.from(
      { length: 120 },
      (_, i) => `  - id: svc-${String(i).padStart(3, '0')}
    name: Service ${i}
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }`,
    ).join('\n');
    const yaml = `
requests:
  approverChannel: CAPPROVALS
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
resources:
${many}
`;
    beforeEach(async () => (h = await slackHarness({ yaml })));

    it('switches to a search that answers from what the person may request', async () => {
      const form = await openForm();
      const select = block(form, BLOCKS.resource)!;
      expect(select.element).toMatchObject({ type: 'external_select', min_query_length: 0 });
      const ask = (value: string) =>
        h.send.interaction(
          blockSuggestion({
            userId: 'UREQ',
            view: viewOutput(form, { id: 'VREQ00001' }),
            blockId: BLOCKS.resource,
            actionId: ACTIONS.resourceSelect,
            value,
          }),
        );
      const all = JSON.parse((await ask('')).text) as { options: { value: string }[] };
      expect(all.options).toHaveLength(100);
      const some = JSON.parse((await ask('service 11')).text) as { options: { value: string }[] };
      expect(some.options.map((o) => o.value)).toEqual([
        'svc-011',
        'svc-110',
        'svc-111',
        'svc-112',
        'svc-113',
        'svc-114',
        'svc-115',
        'svc-116',
        'svc-117',
        'svc-118',
        'svc-119',
      ]);
      const chosen = await choose('UREQ', form, 'svc-042');
      expect(block(chosen, BLOCKS.resource)!.element).toMatchObject({
        type: 'external_select',
        initial_option: { value: 'svc-042' },
      });
    });
  });
});
