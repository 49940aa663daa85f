import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { ManualClock } from '../../src/core/clock';
import { logger } from '../../src/log';
import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { FakePagerDuty } from '../support/fake-pagerduty';
import { FakeSlack } from '../support/fake-slack';
import { buttonClick, SlackSender, viewOutput, viewSubmission } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'e2e-signing-secret-0123456789';
const HOOK_SECRET = 'e2e-webhook-secret-value';
const PD_TOKEN = 'e2e-pagerduty-token-value';
/** Monday 2 Nov 2026, 09:00 UTC. */
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

const yaml = (hookUrl: string, pagerDutyUrl: string) => `
timezone: UTC
requests: { approverChannel: CAPPROVALS }
oncall:
  payments:
    type: pagerduty
    schedule: PSCHED1
    token: '\${PD_TOKEN}'
    apiUrl: '${pagerDutyUrl}'
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: payments-db
    name: Payments database
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    autoApprove:
      - oncall: [payments]
        maxDuration: 1h
    requestWindow: businessHours
`;

/**
 * The process as main.ts builds it, with the on-call source played by a loopback PagerDuty,
 * Slack by FakeSlack (signed requests in, Web API calls out) and the time by a clock the test
 * moves: /jit explain, an on-call auto-approval, and a later start decided now and activated then.
 */
describe('end to end: on-call, windows, later starts and explain', () => {
  let fake: FakeSlack;
  let pd: FakePagerDuty;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass;
  let send: SlackSender;
  let sql: SqlInspector;
  let clock: ManualClock;
  let responses = 0;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    fake.emails = { UONC: 'onc@example.com', UOTHER: 'other@example.com' };
    pd = await new FakePagerDuty(PD_TOKEN).start();
    pd.oncalls = [
      {
        schedule: 'PSCHED1',
        escalationPolicy: 'PEP1',
        level: 1,
        user: { id: 'PONC', email: 'onc@example.com', name: 'On Call' },
      },
    ];
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    const file = join(tmp.dir, 'hallpass.db');
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-e2e',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: file,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url, pd.url), { HOOK_SECRET, PD_TOKEN });
    clock = new ManualClock(T0);
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger, clock });
    send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
    sql = sqliteInspector(file);
  });

  afterEach(async () => {
    await sql?.close();
    await running?.stop();
    await receiver.stop();
    await pd.stop();
    await fake.stop();
    tmp.cleanup();
  });

  /** Runs `/jit <text>` as `userId` and returns the ephemeral answer's text. */
  async function jit(userId: string, text: string): Promise<string> {
    const path = `response/${++responses}`;
    const res = await send.command({ userId, text, responseUrl: `${fake.url}${path}` });
    expect(res.status).toBe(200);
    const answer = await fake.waitFor((calls) => calls.find((c) => c.method === path));
    return String(answer.args.text);
  }

  it('/jit explain says who is on call and what applies to the caller, from PagerDuty', async () => {
    const onCall = await jit('UONC', 'explain payments-db');
    expect(onCall).toContain('May request it.');
    expect(onCall).toContain('Now that is: <@ULEAD>');
    expect(onCall).toContain(
      'requested by whoever is on call for payments, for at most 1h: applies to you now (for up to 1h)',
    );
    expect(onCall).toContain(
      'access must start within businessHours (Mon–Fri 08:00–18:00 (UTC)); open now',
    );
    expect(pd.requests.length).toBeGreaterThan(0);
    expect(fake.callsOf('users.lookupByEmail').map((c) => c.args.email)).toEqual([
      'onc@example.com',
    ]);

    const other = await jit('UOTHER', 'explain payments-db');
    expect(other).toContain('does not apply: you are not one of whoever is on call for payments');

    clock.set(Date.UTC(2026, 10, 7, 12, 0)); // Saturday
    const weekend = await jit('UOTHER', 'explain payments-db');
    expect(weekend).toContain('Cannot request it* (rule: `requestWindow`)');
    expect(await jit('UOTHER', 'explain nope')).toContain('Unknown resource "nope"');
  });

  it('approves the on-call person at once, and sends everybody else to the approver', async () => {
    expect(await jit('UONC', 'request payments-db 30m fixing the payment retries')).toContain(
      'needs no approval',
    );
    await waitUntil(() => receiver.callsOf('grant')[0]);
    expect(await jit('UOTHER', 'request payments-db 30m fixing the payment retries')).toContain(
      'is with the approvers in <#CAPPROVALS>',
    );
    expect(
      await sql.all(
        'SELECT requester, status, auto_approved FROM requests ORDER BY created_at, requester',
      ),
    ).toEqual([
      { requester: 'UONC', status: 'approved', auto_approved: 1 },
      { requester: 'UOTHER', status: 'pending', auto_approved: 0 },
    ]);
  });

  it('a request `from 14:00` is decided now and activated at 14:00', async () => {
    const answer = await jit('UOTHER', 'request payments-db 30m from 14:00 migrating the ledger');
    expect(answer).toContain('(30 min), starting 14:00 UTC,');
    expect(answer).toContain('if nobody decides before the start, it expires');
    const requestId = await sql.value<string>('SELECT id FROM requests');
    await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'CAPPROVALS'),
    );
    await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: {
          kind: 'message',
          responseUrl: `${fake.url}response/click`,
          channelId: 'CAPPROVALS',
        },
      }),
    );
    await waitUntil(() => sql.get("SELECT 1 FROM grants WHERE status = 'activating'"));
    await running.sweeper.tick();
    expect(receiver.callsOf('grant')).toHaveLength(0);

    clock.set(Date.UTC(2026, 10, 2, 14, 0));
    await running.sweeper.tick();
    const granted = await waitUntil(() => receiver.callsOf('grant')[0]);
    expect(granted.body).toMatchObject({
      startsAt: '2026-11-02T14:00:00.000Z',
      expiresAt: '2026-11-02T14:30:00.000Z',
    });
  });

  it('the request form takes a later start from its time picker', async () => {
    const view = viewOutput(
      { type: 'modal', callback_id: VIEWS.request, private_metadata: '{"fromHome":false}' },
      {
        id: 'VSTART1',
        values: {
          [BLOCKS.resource]: {
            [ACTIONS.resourceSelect]: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'x' }, value: 'payments-db' },
            },
          },
          [`${BLOCKS.duration}:payments-db`]: {
            [ACTIONS.durationSelect]: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: '1h' }, value: '1h' },
            },
          },
          [BLOCKS.justification]: {
            [ACTIONS.justificationInput]: {
              type: 'plain_text_input',
              value: 'restoring the ledger',
            },
          },
          [BLOCKS.start]: { [ACTIONS.startInput]: { type: 'timepicker', selected_time: '20:00' } },
        },
      },
    );
    const res = await send.interaction(viewSubmission({ userId: 'UOTHER', view }));
    expect(res.status).toBe(200);
    // 20:00 is outside business hours: the error sits next to the time picker and nothing is filed.
    expect(JSON.parse(res.text)).toEqual({
      response_action: 'errors',
      errors: {
        [BLOCKS.start]:
          'payments-db can be requested only for access that starts within businessHours (Mon–Fri 08:00–18:00 (UTC)). Ask for a start inside it (`from HH:MM`).',
      },
    });
    expect(await sql.value<number>('SELECT count(*) FROM requests')).toBe(0);

    (view.state as { values: Record<string, unknown> }).values[BLOCKS.start] = {
      [ACTIONS.startInput]: { type: 'timepicker', selected_time: '16:15' },
    };
    expect((await send.interaction(viewSubmission({ userId: 'UOTHER', view }))).status).toBe(200);
    expect(await sql.get('SELECT start_at, pending_until FROM requests')).toEqual({
      start_at: Date.UTC(2026, 10, 2, 16, 15),
      pending_until: Date.UTC(2026, 10, 2, 16, 15),
    });
  });
});

async function waitUntil<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('waitUntil timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
