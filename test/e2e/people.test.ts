import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { textOf, waitUntil } from '../slack/harness';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { buttonClick, SlackSender, viewOutput, viewSubmission } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'e2e-people-signing-secret-0123456';
const HOOK_SECRET = 'e2e-people-webhook-secret-value';
const WHY = 'primary database is down, INC-911 failover';

// Follow-ups in seconds, so the real clock gets there within a test.
const yaml = (hookUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper: { retryBase: 1s, retryMax: 2s }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD, UONCALL] }
    approverChannel: CDBA
    breakGlass: { users: [UONCALL], maxDuration: 1h }
  - id: billing
    name: Billing console
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CBILLING
    breakGlass: { users: [UONCALL], maxDuration: 1h, reviewWithin: 2s }
  - id: paging
    name: Paging console
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CPAGING
    remindAfter: 1s
    escalateAfter: 2s
    escalateTo: { users: [UBOSS], channel: CESC }
`;

type Sent = { channel: string; text: string; blocks: unknown; threadTs?: string; ts: string };

/** Every message the bot posted, with the ts the fake gave it. */
function posts(calls: RecordedCall[]): Sent[] {
  let n = 0;
  return calls.flatMap((c) => {
    if (c.method !== 'chat.postMessage') return [];
    n += 1;
    return [
      {
        channel: String(c.args.channel),
        text: String(c.args.text),
        blocks: c.args.blocks,
        threadTs: c.args.thread_ts === undefined ? undefined : String(c.args.thread_ts),
        ts: String(n),
      },
    ];
  });
}

const postsTo = (calls: RecordedCall[], channel: string) =>
  posts(calls).filter((p) => p.channel === channel);

const actionIdsOf = (blocks: unknown): string[] =>
  JSON.stringify(blocks ?? [])
    .match(/"action_id":"[^"]+"/g)
    ?.map((m) => m.slice(13, -1)) ?? [];

/**
 * Break-glass, reminders and escalation on the whole product: the process as main.ts builds it,
 * signed requests like Slack's, FakeSlack for the Web API, a webhook provider, a SQLite file and
 * the real clock. A restart is a new app on the same file.
 */
describe('end to end: break-glass, reminders and escalation', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let running: RunningHallpass | undefined;
  let send: SlackSender;
  let sql: SqlInspector;
  let responses = 0;

  async function start(): Promise<RunningHallpass> {
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-e2e-people',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: file,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
    return running;
  }

  async function stop(): Promise<void> {
    await running?.stop();
    running = undefined;
  }

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    file = join(tmp.dir, 'hallpass.db');
    await start();
    sql = sqliteInspector(file);
  });

  afterEach(async () => {
    await sql?.close();
    await stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const responseUrl = () => `${fake.url}response/${++responses}`;
  /** What the app answered at a response_url. */
  const answerAt = async (url: string) => {
    const method = url.slice(fake.url.length);
    const call = await fake.waitFor((calls) => calls.find((c) => c.method === method));
    return textOf(call.args.blocks) || String(call.args.text);
  };
  const click = (userId: string, actionId: string, value: string, url = responseUrl()) =>
    send
      .interaction(
        buttonClick({
          userId,
          actionId,
          value,
          source: { kind: 'message', responseUrl: url, channelId: 'CDBA' },
        }),
      )
      .then(() => url);

  async function breakGlass(resource = 'prod-db'): Promise<string> {
    const url = responseUrl();
    await send.command({
      userId: 'UONCALL',
      text: `breakglass ${resource} 30m ${WHY}`,
      responseUrl: url,
    });
    const answer = await answerAt(url);
    expect(answer).toContain('Break glass');
    expect(answer).toContain('without approval');
    expect(answer).toContain('This use is audited');
    return waitUntil(
      () => sql.value<string | undefined>('SELECT request_id FROM break_glass_uses'),
      'the break-glass use',
    );
  }

  it('grants at once on /jit breakglass, alerts approvers and admins, and takes a review from another approver', async () => {
    const requestId = await breakGlass();
    // Granted through the provider without anyone approving.
    const granted = await waitUntil(() => receiver.callsOf('grant')[0], 'the grant call');
    expect(granted.body).toMatchObject({ requestId, user: { slackId: 'UONCALL' } });
    const alert = await fake.waitFor((calls) => postsTo(calls, 'CDBA')[0]);
    expect(textOf(alert.blocks)).toContain('Break-glass: Production database');
    expect(textOf(alert.blocks)).toContain('This use is audited');
    expect(actionIdsOf(alert.blocks)).toEqual([ACTIONS.reviewBreakGlass, ACTIONS.flagBreakGlass]);
    const admin = await fake.waitFor((calls) => postsTo(calls, 'UADMIN')[0]);
    expect(admin.text).toContain('broke the glass');
    const dm = await fake.waitFor((calls) => postsTo(calls, 'UONCALL')[0]);
    expect(dm.text).toContain('You broke the glass');

    // A stranger and the user themself (an approver of prod-db too) are refused at the click.
    const stranger = await answerAt(await click('URANDOM', ACTIONS.reviewBreakGlass, requestId));
    expect(stranger).toContain('You are not an approver for Production database');
    const self = await answerAt(await click('UONCALL', ACTIONS.flagBreakGlass, requestId));
    expect(self).toContain('You broke the glass yourself');
    expect(fake.callsOf('views.open')).toHaveLength(0);

    await click('ULEAD', ACTIONS.flagBreakGlass, requestId);
    const opened = await fake.waitFor((calls) => calls.find((c) => c.method === 'views.open'));
    const form = opened.args.view as Record<string, unknown>;
    expect(form.callback_id).toBe(VIEWS.review);
    const submit = (userId: string, note: string | null) =>
      send.interaction(
        viewSubmission({
          userId,
          view: viewOutput(form, {
            id: 'VREVIEW001',
            values: {
              [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: note } },
            },
          }),
        }),
      );
    // A flag needs a note: the form stays open with the error under it.
    const bare = await submit('ULEAD', null);
    expect(JSON.parse(bare.text)).toEqual({
      response_action: 'errors',
      errors: { [BLOCKS.reason]: 'Say what is wrong with this use: a flag needs a note.' },
    });
    // A crafted submission by the user themself is refused by the core too.
    const forged = await submit('UONCALL', 'looks fine to me');
    expect(textOf(JSON.parse(forged.text).view.blocks)).toContain('You broke the glass yourself');
    const flagged = await submit('ULEAD', 'no incident was open then');
    expect(textOf(JSON.parse(flagged.text).view.blocks)).toContain('Flagged by <@ULEAD>');

    expect(
      await sql.all(
        'SELECT verdict, reviewed_by, note FROM break_glass_uses WHERE request_id = ?',
        requestId,
      ),
    ).toEqual([{ verdict: 'flagged', reviewed_by: 'ULEAD', note: 'no incident was open then' }]);
    // The alert loses its buttons and says who flagged it; the admins hear of the flag.
    const redrawn = await fake.waitFor((calls) =>
      calls.find(
        (c) =>
          c.method === 'chat.update' &&
          c.args.channel === 'CDBA' &&
          textOf(c.args.blocks).includes('Flagged by'),
      ),
    );
    expect(actionIdsOf(redrawn.args.blocks)).toEqual([]);
    await fake.waitFor((calls) => postsTo(calls, 'UADMIN').find((p) => p.text.includes('flagged')));
    const actions = await sql.all<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_events WHERE action LIKE 'breakglass.%' ORDER BY seq",
    );
    expect(actions).toEqual([
      { action: 'breakglass.used', actor: 'UONCALL' },
      { action: 'breakglass.flagged', actor: 'ULEAD' },
    ]);
  });

  it('reminds the approvers in the thread, then escalates to the target, who may decide', async () => {
    await send.command({
      userId: 'UDEV',
      text: `request paging 1h ${WHY}`,
      responseUrl: responseUrl(),
    });
    const requestId = await waitUntil(
      () => sql.value<string | undefined>('SELECT id FROM requests'),
      'the request',
    );
    const asked = await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'CPAGING'),
    );
    // Not escalated yet: the boss is not an approver.
    const early = await answerAt(await click('UBOSS', ACTIONS.approve, requestId));
    expect(early).toContain('You are not an approver for Paging console');

    const reminder = await fake.waitFor(
      (calls) => postsTo(calls, 'CPAGING').find((p) => p.threadTs !== undefined),
      5000,
    );
    const parentTs = await sql.value<string>(
      "SELECT ts FROM slack_messages WHERE subject = ? AND purpose = 'approvers'",
      `request:${requestId}`,
    );
    expect(reminder.threadTs).toBe(parentTs);
    expect(reminder.text).toContain('<@ULEAD>');
    expect(asked).toBeDefined();

    const escalation = await fake.waitFor((calls) => postsTo(calls, 'CESC')[0], 5000);
    expect(textOf(escalation.blocks)).toContain('Escalated');
    expect(actionIdsOf(escalation.blocks)).toEqual([ACTIONS.approve, ACTIONS.deny]);
    const bossDm = await fake.waitFor((calls) => postsTo(calls, 'UBOSS')[0]);
    expect(bossDm.text).toContain('escalated to you');

    // A recorded approval needs no answer: the request moves on.
    await click('UBOSS', ACTIONS.approve, requestId);
    await waitUntil(() => receiver.callsOf('grant')[0], 'the grant call');
    expect(
      await sql.all('SELECT status, decided_by FROM requests WHERE id = ?', requestId),
    ).toEqual([{ status: 'approved', decided_by: 'UBOSS' }]);
    // The escalated copy follows the request: decided, its buttons are gone.
    await fake.waitFor((calls) =>
      calls.find(
        (c) =>
          c.method === 'chat.update' &&
          c.args.channel === 'CESC' &&
          actionIdsOf(c.args.blocks).length === 0,
      ),
    );
    // Once each, however long it keeps running.
    await new Promise((r) => setTimeout(r, 1500));
    expect(postsTo(fake.calls, 'CPAGING').filter((p) => p.threadTs)).toHaveLength(1);
    expect(postsTo(fake.calls, 'CESC')).toHaveLength(1);
    const audit = await sql.all<{ action: string }>(
      "SELECT action FROM audit_events WHERE action IN ('request.reminded', 'request.escalated') ORDER BY seq",
    );
    expect(audit.map((a) => a.action)).toEqual(['request.reminded', 'request.escalated']);
  });

  it('chases an unreviewed use after a restart, once, from the state in the database', async () => {
    const requestId = await breakGlass('billing');
    await fake.waitFor((calls) => postsTo(calls, 'CBILLING')[0]);
    await stop();
    // Down while the review falls due (reviewWithin 2s).
    await new Promise((r) => setTimeout(r, 2500));
    await start();
    const chase = await fake.waitFor(
      (calls) => postsTo(calls, 'CBILLING').find((p) => p.threadTs !== undefined),
      5000,
    );
    expect(chase.text).toContain('still not reviewed');
    expect(chase.text).toContain('<@ULEAD>');
    await fake.waitFor((calls) =>
      postsTo(calls, 'UADMIN').find((p) => p.text.includes('still not reviewed')),
    );
    // Another restart sends nothing again.
    await stop();
    await start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(postsTo(fake.calls, 'CBILLING').filter((p) => p.threadTs)).toHaveLength(1);
    expect(await sql.all('SELECT step FROM follow_ups WHERE request_id = ?', requestId)).toEqual([
      { step: 'review_overdue' },
    ]);
    expect(
      await sql.value<number>(
        "SELECT count(*) FROM audit_events WHERE action = 'breakglass.review_overdue'",
      ),
    ).toBe(1);
  });
});
