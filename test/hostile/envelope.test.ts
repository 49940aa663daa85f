import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { slackHarness, type SlackHarness } from '../slack/harness';
import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import {
  appHomeOpened,
  blockSuggestion,
  buttonClick,
  FORM,
  JSON_TYPE,
  slackSignature,
  slashCommandBody,
  viewOutput,
  viewSubmission,
} from '../support/slack-requests';
import { captureLogs, snapshot, watchRejections, type CapturedLogs } from './support';

const JUST = 'investigating INC-42 slow queries';
const MB = 1024 * 1024;

const form = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;

/**
 * Signed requests whose bodies Slack would never send: each gets a prompt answer (400 for a body
 * that is not a Slack request Hallpass handles, 2xx for well-formed ones it does not know), a
 * warning in the log, and no change to any table.
 */
describe('hostile bodies over signed HTTP', () => {
  let h: SlackHarness;
  let logs: CapturedLogs;
  let rejections: ReturnType<typeof watchRejections>;
  let requestId: string;

  beforeEach(async () => {
    rejections = watchRejections();
    h = await slackHarness();
    requestId = (
      await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      })
    ).id;
    logs = captureLogs();
  });
  afterEach(async () => {
    await h.close();
    logs.stop();
    rejections.stop();
    expect(rejections.seen).toEqual([]);
  });

  /** Sends, lets every listener finish, and checks that nothing changed. */
  async function expectNoChange(send: () => Promise<{ status: number; text: string }>) {
    const before = await snapshot(h.sql);
    const res = await send();
    await h.slack.stop();
    expect(await snapshot(h.sql)).toEqual(before);
    return res;
  }

  const click = (over: Record<string, unknown> = {}) => ({
    ...buttonClick({
      userId: 'ULEAD',
      actionId: ACTIONS.approve,
      value: requestId,
      source: { kind: 'message', responseUrl: h.responseUrl(), channelId: 'CDBA' },
    }),
    ...over,
  });
  const denyForm = (over: Record<string, unknown> = {}) =>
    viewSubmission({
      userId: 'ULEAD',
      view: {
        ...viewOutput(
          {
            type: 'modal',
            callback_id: VIEWS.deny,
            private_metadata: JSON.stringify({ requestId, fromHome: false }),
          },
          { id: 'VDENY0001' },
        ),
        ...over,
      },
    });

  const malformed: [string, () => [string, string]][] = [
    ['payload=null', () => ['payload=null', FORM]],
    ['a JSON null', () => ['null', JSON_TYPE]],
    ['invalid JSON in payload=', () => ['payload=%7B%22type%22%3A', FORM]],
    ['a number as payload', () => ['payload=5', FORM]],
    ['a string as payload', () => [form('block_actions'), FORM]],
    ['an array as payload', () => [form([click()]), FORM]],
    ['an empty form', () => ['', FORM]],
    ['an empty JSON object', () => ['{}', JSON_TYPE]],
    ['a click without a user', () => [form(click({ user: undefined })), FORM]],
    ['a click whose user is null', () => [form(click({ user: null })), FORM]],
    ['a click whose user id is a number', () => [form(click({ user: { id: 42 } })), FORM]],
    ['a click whose user id is a list', () => [form(click({ user: { id: ['ULEAD'] } })), FORM]],
    [
      'actions as an object',
      () => [form(click({ actions: { action_id: ACTIONS.approve } })), FORM],
    ],
    ['actions as an empty list', () => [form(click({ actions: [] })), FORM]],
    [
      'an action id that is a number',
      () => [form(click({ actions: [{ action_id: 7, block_id: 'b', type: 'button' }] })), FORM],
    ],
    ['a click without a container', () => [form(click({ container: undefined })), FORM]],
    ['a form submission without a view', () => [form({ ...denyForm(), view: undefined }), FORM]],
    ['a view that is a list', () => [form({ ...denyForm(), view: [] }), FORM]],
    [
      'metadata that is an object',
      () => [form(denyForm({ private_metadata: { requestId } })), FORM],
    ],
    ['state values that are a list', () => [form(denyForm({ state: { values: [] } })), FORM]],
    ['a callback id that is a number', () => [form(denyForm({ callback_id: 12 })), FORM]],
    [
      'an options search whose typed value is a number',
      () => [
        form({
          ...blockSuggestion({
            userId: 'UREQ',
            view: viewOutput({ type: 'modal', callback_id: VIEWS.request }, { id: 'V1' }),
            blockId: BLOCKS.resource,
            actionId: ACTIONS.resourceSelect,
            value: 'prod',
          }),
          value: 5,
        }),
        FORM,
      ],
    ],
    ['a shortcut Hallpass never registered', () => [form({ ...click(), type: 'shortcut' }), FORM]],
    [
      'an event envelope whose event is null',
      () => [JSON.stringify({ ...appHomeOpened({ userId: 'UREQ' }), event: null }), JSON_TYPE],
    ],
    [
      'an event whose user is null',
      () => {
        const env = appHomeOpened({ userId: 'UREQ' });
        return [
          JSON.stringify({ ...env, event: { ...(env.event as object), user: null } }),
          JSON_TYPE,
        ];
      },
    ],
    [
      'an event Hallpass does not subscribe to',
      () => {
        const env = appHomeOpened({ userId: 'UREQ' });
        const event = { type: 'message', user: 'UREQ', channel: 'C1', text: 'hi' };
        return [JSON.stringify({ ...env, event }), JSON_TYPE];
      },
    ],
    [
      'authorizations holding null',
      () => [
        JSON.stringify({ ...appHomeOpened({ userId: 'UREQ' }), authorizations: [null] }),
        JSON_TYPE,
      ],
    ],
    [
      'a slash command without user_id',
      () => {
        const fields = new URLSearchParams(
          slashCommandBody({ userId: 'UREQ', text: 'list', responseUrl: h.responseUrl() }),
        );
        fields.delete('user_id');
        return [fields.toString(), FORM];
      },
    ],
    [
      'a slash command naming two users',
      () => [
        `${slashCommandBody({ userId: 'UREQ', text: `cancel ${requestId}`, responseUrl: h.responseUrl() })}&user_id=UADMIN`,
        FORM,
      ],
    ],
    [
      'a slash command with the command typed as JSON',
      () => [
        JSON.stringify(
          Object.fromEntries(
            new URLSearchParams(
              slashCommandBody({ userId: 'UREQ', text: 'list', responseUrl: h.responseUrl() }),
            ),
          ),
        ),
        JSON_TYPE,
      ],
    ],
  ];

  it.each(malformed)('answers 400 to %s, warns, and changes nothing', async (_, make) => {
    const [body, type] = make();
    const res = await expectNoChange(() => h.send.post(body, type));
    expect(res.status).toBe(400);
    expect(logs.warnings().map((l) => l.message)).toEqual([
      expect.stringMatching(
        /^(slack request with a body Hallpass does not handle|Malformed request body)/,
      ),
    ]);
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('says where a body went wrong without repeating its values', async () => {
    const secretish = 'xoxb-looks-like-a-token-12345';
    await expectNoChange(() =>
      h.send.post(form(click({ user: { id: 42, name: secretish } })), FORM),
    );
    const [line] = logs.warnings();
    expect(line).toMatchObject({
      message: 'slack request with a body Hallpass does not handle',
      problems: [expect.stringMatching(/^user\.id: /)],
    });
    expect(logs.text()).not.toContain('looks-like-a-token');
  });

  it.each([
    ['unsigned', { signature: '' }],
    [
      'signed with another secret',
      { signature: slackSignature('not-the-secret', Math.floor(Date.now() / 1000), 'null') },
    ],
  ])('answers 401, not 400, to a malformed body that is %s', async (_, options) => {
    const res = await expectNoChange(() => h.send.post('null', JSON_TYPE, options));
    expect(res.status).toBe(401);
  });

  it('answers 413 to a body over 4 MB, before reading it as a request', async () => {
    const big = 'x'.repeat(5 * MB);
    const res = await expectNoChange(() =>
      h.send.command({
        userId: 'UREQ',
        text: `request prod-db 1h ${big}`,
        responseUrl: h.responseUrl(),
      }),
    );
    expect(res.status).toBe(413);
    expect(logs.warnings()).toHaveLength(1);
  });

  it('answers a 1 MB /jit request with the core’s refusal, ephemerally', async () => {
    const responseUrl = h.responseUrl();
    const res = await expectNoChange(() =>
      h.send.command({ userId: 'UREQ', text: `request prod-db 1h ${'y'.repeat(MB)}`, responseUrl }),
    );
    expect(res.status).toBe(200);
    const reply = await h.responseTo(responseUrl);
    expect(reply.response_type).toBe('ephemeral');
    expect(JSON.stringify(reply)).toContain('Keep the justification under 2000 characters');
  });

  it('answers a button carrying a 1 MB value as a stale button, and logs only its start', async () => {
    const payload = click({ user: { id: 'ULEAD', name: 'lead', team_id: 'T111' } });
    const [action] = payload.actions as Record<string, unknown>[];
    payload.actions = [{ ...action, value: `${requestId}${'z'.repeat(MB)}` }];
    const res = await expectNoChange(() => h.send.interaction(payload));
    expect(res.status).toBe(200);
    const reply = await h.responseTo(String(payload.response_url));
    expect(String(reply.text)).toContain('That button is out of date or was not made by Hallpass');
    const [warning] = logs.warnings();
    expect(warning).toMatchObject({ message: 'slack button value rejected', userId: 'ULEAD' });
    expect(String(warning!.value).length).toBeLessThanOrEqual(100);
  });

  it('turns a deny form with 1 MB of metadata into an out-of-date note', async () => {
    const payload = denyForm({ private_metadata: 'm'.repeat(MB) });
    const res = await expectNoChange(() => h.send.interaction(payload));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ response_action: 'update' });
    expect(res.text).toContain('This form is out of date, so nothing changed.');
    expect(logs.warnings().map((l) => l.message)).toEqual(['deny form with unreadable metadata']);
  });

  it.each([
    ['another app’s action id', 'other_app.approve'],
    ['an action id under Hallpass’s prefix that it never made', 'hallpass.approve_all'],
  ])('acks a click on %s with 200, warns, and changes nothing', async (_, actionId) => {
    const payload = buttonClick({
      userId: 'ULEAD',
      actionId,
      value: requestId,
      source: { kind: 'message', responseUrl: h.responseUrl(), channelId: 'CDBA' },
    });
    const res = await expectNoChange(() => h.send.interaction(payload));
    expect(res).toEqual({ status: 200, text: '' });
    expect(logs.warnings()).toEqual([
      expect.objectContaining({ message: 'slack action Hallpass does not know', actionId }),
    ]);
  });

  it('acks a form submission with an unknown callback id, warns, and changes nothing', async () => {
    const res = await expectNoChange(() =>
      h.send.interaction(denyForm({ callback_id: 'hallpass.deny_modal_v0' })),
    );
    expect(res).toEqual({ status: 200, text: '' });
    expect(logs.warnings()).toEqual([
      expect.objectContaining({
        message: 'slack form Hallpass does not know',
        callbackId: 'hallpass.deny_modal_v0',
        userId: 'ULEAD',
      }),
    ]);
  });

  it('answers an options search for a select Hallpass did not make with no options', async () => {
    const payload = blockSuggestion({
      userId: 'UREQ',
      view: viewOutput({ type: 'modal', callback_id: VIEWS.request }, { id: 'V1' }),
      blockId: BLOCKS.resource,
      actionId: 'other_app.search',
      value: 'prod',
    });
    const res = await expectNoChange(() => h.send.interaction(payload));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ options: [] });
    expect(logs.warnings().map((l) => l.message)).toEqual([
      'slack options search Hallpass does not know',
    ]);
  });
});

describe('what the envelope check lets through', () => {
  it('is what manifest.yml asks Slack for: extend src/slack/envelope.ts with the manifest', () => {
    const manifest = parse(readFileSync(join(__dirname, '..', '..', 'manifest.yml'), 'utf8')) as {
      features: { slash_commands: unknown[]; shortcuts?: unknown[] };
      settings: { event_subscriptions: { bot_events: string[] } };
    };
    expect(manifest.settings.event_subscriptions.bot_events).toEqual([
      'app_home_opened',
      'user_change',
    ]);
    expect(manifest.features.shortcuts).toBeUndefined();
    expect(manifest.features.slash_commands).toHaveLength(1);
  });
});
