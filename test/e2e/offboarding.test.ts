import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { systemClock } from '../../src/core/clock';
import { OffboardingCheck } from '../../src/jobs/offboarding';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { ACTIONS } from '../../src/slack/ids';
import { textOf, waitUntil } from '../slack/harness';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { buttonClick, SlackSender, userChangeEvent } from '../support/slack-requests';
import type { SqlInspector } from '../support/sql-inspector';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'e2e-offboarding-signing-secret-0123';
const HOOK_SECRET = 'e2e-offboarding-webhook-secret';
const BOT_TOKEN = 'xoxb-e2e-offboarding';

// The bot's own directory check never runs during a test (1 January, midnight): the safety net
// is run by hand, so what it does is seen alone.
const yaml = (hookUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper: { retryBase: 1s, retryMax: 2s }
offboarding: { schedule: '0 0 0 1 1 *' }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    target: { role: analytics_ro }
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
  - id: staging
    name: Staging cluster
    provider: hook
    target: { namespace: staging }
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CSTAGING
`;

const posts = (calls: RecordedCall[], channel: string) =>
  calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel);

/**
 * Offboarding through the whole process (startHallpass) on each store: a signed `user_change`
 * from Slack saying someone was deactivated takes their access away at the provider (a webhook
 * receiver on loopback), cancels what they asked for, tells the approvers and is audited; a
 * retried delivery of the same event changes nothing; they cannot file again. The scheduled
 * directory check (OffboardingCheck) does the same for someone whose event never came.
 */
describe.each(STORE_KINDS)('offboarding end to end (%s)', (kind) => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let store: TestStore;
  let running: RunningHallpass | undefined;
  let send: SlackSender;
  let sql: SqlInspector;
  let replies = 0;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    store = await freshStore(kind);
    sql = store.sql;
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: store.location.file,
      ...(store.location.databaseUrl ? { HALLPASS_DATABASE_URL: store.location.databaseUrl } : {}),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await store.close();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  /** `/jit <text>` from `userId`; resolves with what Hallpass answered them (ephemeral). */
  async function jit(userId: string, text: string): Promise<string> {
    replies += 1;
    const method = `response/${kind}-${replies}`;
    const res = await send.command({ userId, text, responseUrl: `${fake.url}${method}` });
    expect(res.status).toBe(200);
    const reply = await fake.waitFor((calls) => calls.find((c) => c.method === method));
    return String(reply.args.text);
  }

  function approve(approver: string, requestId: string, channelId: string) {
    replies += 1;
    return send.interaction(
      buttonClick({
        userId: approver,
        actionId: ACTIONS.approve,
        value: requestId,
        source: {
          kind: 'message',
          responseUrl: `${fake.url}response/${kind}-${replies}`,
          channelId,
        },
      }),
    );
  }

  const requestOf = (userId: string, resourceId: string) =>
    waitUntil(
      () =>
        sql.value<string | undefined>(
          'SELECT id FROM requests WHERE requester = ? AND resource_id = ? ORDER BY created_at DESC',
          userId,
          resourceId,
        ),
      `${userId}'s request for ${resourceId}`,
    );
  const grantOf = (requestId: string) =>
    waitUntil(
      () =>
        sql.value<string | undefined>(
          "SELECT id FROM grants WHERE request_id = ? AND status = 'active'",
          requestId,
        ),
      `the grant of ${requestId} to be active`,
    );
  /** The approver message of a request, as Hallpass remembers it (where it was posted). */
  const approverMessage = (requestId: string) =>
    waitUntil(
      () =>
        sql.get<{ channel: string; ts: string }>(
          "SELECT channel, ts FROM slack_messages WHERE subject = 'request:' || ? AND purpose = 'approvers'",
          requestId,
        ),
      `the approver message of ${requestId}`,
    );
  const drained = () =>
    waitUntil(
      async () =>
        Number(await sql.value("SELECT count(*) FROM outbox WHERE status = 'pending'")) === 0,
      'the outbox to drain',
    );
  const offboardedEvents = async () =>
    (
      await sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'user.offboarded' ORDER BY seq",
      )
    ).map((r) => JSON.parse(r.details) as Record<string, unknown>);
  const edits = (message: { channel: string; ts: string }) =>
    fake.calls
      .filter(
        (c) =>
          c.method === 'chat.update' &&
          c.args.channel === message.channel &&
          c.args.ts === message.ts,
      )
      .map((c) => textOf(c.args.blocks));

  /** `userId` asks for prod-db and ULEAD approves: the grant is active at the receiver. */
  async function grantFor(
    userId: string,
    why: string,
  ): Promise<{ request: string; grant: string }> {
    expect(await jit(userId, `request prod-db 1h ${why}`)).toMatch(/is with the approvers/);
    const request = await requestOf(userId, 'prod-db');
    await approverMessage(request);
    expect((await approve('ULEAD', request, 'CDBA')).status).toBe(200);
    const grant = await grantOf(request);
    expect(receiver.held.has(grant)).toBe(true);
    return { request, grant };
  }

  it('a user_change saying someone was deactivated revokes, cancels, tells the approvers, and a retry changes nothing', async () => {
    const { request: granted, grant } = await grantFor('UREQ', 'rotating keys for INC-9');
    expect(await jit('UREQ', 'request staging 1h load test for INC-9 rollout')).toMatch(
      /is with the approvers/,
    );
    const pending = await requestOf('UREQ', 'staging');
    const grantMessage = await approverMessage(granted);
    const pendingMessage = await approverMessage(pending);
    expect(grantMessage.channel).toBe('CDBA');
    expect(pendingMessage.channel).toBe('CSTAGING');

    const event = userChangeEvent('UREQ', { deleted: true });
    expect((await send.event(event)).status).toBe(200);

    // The access is taken away at the provider, and only then recorded as revoked.
    const revoke = await waitUntil(
      () => receiver.callsOf('revoke').find((c) => c.body.grantId === grant),
      'the revoke at the receiver',
    );
    expect(revoke.verified).toBe(true);
    expect(revoke.body).toMatchObject({
      action: 'revoke',
      user: { slackId: 'UREQ' },
      resource: { id: 'prod-db', target: { role: 'analytics_ro' } },
    });
    await waitUntil(
      () => sql.get("SELECT 1 FROM grants WHERE id = ? AND status = 'revoked'", grant),
      'the grant to be revoked',
    );
    expect(receiver.held.has(grant)).toBe(false);
    expect(
      await sql.get('SELECT status, end_reason, ended_by FROM grants WHERE id = ?', grant),
    ).toEqual({
      status: 'revoked',
      end_reason: 'offboarded',
      ended_by: 'hallpass',
    });
    expect(await sql.get('SELECT status, decided_by FROM requests WHERE id = ?', pending)).toEqual({
      status: 'cancelled',
      decided_by: 'hallpass',
    });

    // Each affected approver channel is told, in words, what happened and what Hallpass did.
    for (const channel of ['CDBA', 'CSTAGING']) {
      const told = await fake.waitFor((calls) =>
        posts(calls, channel).find((c) => /was deactivated/.test(textOf(c.args.blocks))),
      );
      const words = textOf(told.args.blocks);
      expect(words).toContain('<@UREQ> was deactivated in Slack.');
      expect(words).toContain(`Hallpass is revoking their grant (\`${grant}\`)`);
      expect(words).toContain(`Their request was cancelled (\`${pending}\`)`);
    }
    // Their approver messages are edited in place: the grant's, then the pending request's.
    await waitUntil(
      () =>
        edits(grantMessage).some((t) =>
          t.includes('The holder left the workspace; access removed'),
        ),
      'the grant message to say the access was removed',
    );
    await waitUntil(
      () => edits(pendingMessage).some((t) => /Cancelled/.test(t)),
      'the pending request message to say it was cancelled',
    );
    expect(await offboardedEvents()).toEqual([
      expect.objectContaining({
        userId: 'UREQ',
        status: 'deactivated',
        source: 'slack_event',
        grants: [grant],
        requests: [pending],
      }),
    ]);
    await drained();

    // Slack retries the same event (no 2xx in time): it is recorded again and changes nothing.
    const before = {
      audit: await sql.value('SELECT count(*) FROM audit_events'),
      outbox: await sql.value('SELECT count(*) FROM outbox'),
      revokes: receiver.callsOf('revoke').length,
      posts: fake.callsOf('chat.postMessage').length,
      checkedAt: Number(await sql.value("SELECT checked_at FROM people WHERE user_id = 'UREQ'")),
    };
    const retry = await send.event(event, {
      headers: { 'X-Slack-Retry-Num': '1', 'X-Slack-Retry-Reason': 'http_timeout' },
    });
    expect(retry.status).toBe(200);
    await waitUntil(
      async () =>
        Number(await sql.value("SELECT checked_at FROM people WHERE user_id = 'UREQ'")) >
        before.checkedAt,
      'the retried event to be handled',
    );
    await drained();
    expect({
      audit: await sql.value('SELECT count(*) FROM audit_events'),
      outbox: await sql.value('SELECT count(*) FROM outbox'),
      revokes: receiver.callsOf('revoke').length,
      posts: fake.callsOf('chat.postMessage').length,
    }).toEqual({
      audit: before.audit,
      outbox: before.outbox,
      revokes: before.revokes,
      posts: before.posts,
    });
    expect(await offboardedEvents()).toHaveLength(1);
    expect(await sql.get("SELECT state FROM people WHERE user_id = 'UREQ'")).toEqual({
      state: 'deactivated',
    });

    // From now on they cannot file (users.info, the directory, still thinks they are active
    // here: the record of the event is what refuses them), nor be approved into a grant.
    const requests = await sql.value('SELECT count(*) FROM requests');
    expect(await jit('UREQ', 'request prod-db 1h one more look at INC-9')).toContain(
      'UREQ is deactivated in Slack, so Hallpass accepts no requests from them.',
    );
    expect(await approve('ULEAD', pending, 'CSTAGING')).toMatchObject({ status: 200 });
    await drained();
    expect(await sql.value('SELECT count(*) FROM requests')).toBe(requests);
    expect(await sql.value('SELECT count(*) FROM grants WHERE request_id = ?', pending)).toBe(0);
    expect(await sql.value('SELECT status FROM requests WHERE id = ?', pending)).toBe('cancelled');
    expect(receiver.held.size).toBe(0);

    const { report } = await running!.core.audit.verifyAll([]);
    expect(report).toMatchObject({ intact: true });
  });

  it('the scheduled directory check offboards holders whose user_change never came', async () => {
    const gone = await grantFor('UGONE', 'nightly batch backfill INC-12');
    const guest = await grantFor('UGUEST', 'contractor review of INC-12');
    const stays = await grantFor('USTAYS', 'on-call look at INC-12');
    // Slack never sent the events; users.info says what happened.
    fake.userFlags = { UGONE: { deleted: true }, UGUEST: { is_restricted: true } };

    const directory = new SlackDirectory(
      createSlackClient({ botToken: BOT_TOKEN, apiUrl: fake.url, logger }),
      { clock: systemClock, logger },
    );
    const check = new OffboardingCheck({ core: running!.core, directory, logger });
    expect(await check.run()).toBe(2);
    const asked = fake.callsOf('users.info').map((c) => c.args.user);
    expect(asked).toEqual(expect.arrayContaining(['UGONE', 'UGUEST', 'USTAYS']));

    for (const { grant } of [gone, guest]) {
      await waitUntil(
        () => sql.get("SELECT 1 FROM grants WHERE id = ? AND status = 'revoked'", grant),
        `grant ${grant} to be revoked`,
      );
      expect(await sql.value('SELECT end_reason FROM grants WHERE id = ?', grant)).toBe(
        'offboarded',
      );
      expect(receiver.callsOf('revoke').some((c) => c.body.grantId === grant)).toBe(true);
    }
    expect([...receiver.held.keys()]).toEqual([stays.grant]);
    expect(await sql.value('SELECT status FROM grants WHERE id = ?', stays.grant)).toBe('active');
    expect(await offboardedEvents()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          userId: 'UGONE',
          status: 'deactivated',
          source: 'directory_check',
          grants: [gone.grant],
        }),
        expect.objectContaining({
          userId: 'UGUEST',
          status: 'guest',
          source: 'directory_check',
          grants: [guest.grant],
        }),
      ]),
    );
    expect(await offboardedEvents()).toHaveLength(2);
    const told = await fake.waitFor((calls) => {
      const texts = posts(calls, 'CDBA').map((c) => textOf(c.args.blocks));
      const deactivated = texts.find((t) => t.includes('<@UGONE> was deactivated in Slack.'));
      const madeGuest = texts.find((t) => t.includes('<@UGUEST> became a guest in Slack.'));
      return deactivated !== undefined && madeGuest !== undefined && { deactivated, madeGuest };
    });
    expect(told.deactivated).toContain(`Hallpass is revoking their grant (\`${gone.grant}\`)`);
    expect(told.madeGuest).toContain(`Hallpass is revoking their grant (\`${guest.grant}\`)`);

    // Nothing new the next time round.
    expect(await check.run()).toBe(0);
    expect(await offboardedEvents()).toHaveLength(2);
  });
});
