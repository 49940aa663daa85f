import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS } from '../../src/slack/ids';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { buttonClick, SlackSender } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'e2e-signing-secret-0123456789';
const HOOK_SECRET = 'e2e-webhook-secret-value';

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
    target: { role: analytics_ro }
    minDuration: 1s
    defaultDuration: 1h
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
`;

/**
 * The whole product on real parts: the process as main.ts builds it, Slack's Web API played by
 * FakeSlack, signed HTTP requests like Slack's, a webhook provider to a local receiver, a real
 * SQLite file, and the real clock.
 */
describe('end to end: request → approve → grant → DMs → end', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass;
  let send: SlackSender;
  /** The bot's database, read as an operator would, on a connection of its own. */
  let sql: SqlInspector;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
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
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
    sql = sqliteInspector(file);
  });

  afterEach(async () => {
    await sql?.close();
    await running?.stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const dmEvents = (calls: RecordedCall[]) =>
    calls
      .filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'UREQ')
      .map((c) => String(c.args.text));
  const approverPosts = (calls: RecordedCall[]) =>
    calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'CDBA');
  const updates = (calls: RecordedCall[]) =>
    calls.filter((c) => c.method === 'chat.update' && c.args.channel === 'CDBA');

  it('runs the whole loop through Slack and the provider, and the audit chain holds', async () => {
    const command = await send.command({
      userId: 'UREQ',
      text: 'request prod-db 2s investigating INC-42 slow queries',
      responseUrl: `${fake.url}response/1`,
    });
    expect(command.status).toBe(200);
    const post = await fake.waitFor((calls) => approverPosts(calls)[0]);
    expect(JSON.stringify(post.args.blocks)).toContain('investigating INC-42 slow queries');
    // The request is filed after the command is acked.
    const requestId = await waitUntil(() =>
      sql.value<string | undefined>('SELECT id FROM requests'),
    );

    const notApprover = await send.interaction(
      buttonClick({
        userId: 'URANDOM',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CDBA' },
      }),
    );
    expect(notApprover.status).toBe(200);
    const approve = await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/3`, channelId: 'CDBA' },
      }),
    );
    expect(approve.status).toBe(200);

    const granted = await waitUntil(() => receiver.callsOf('grant')[0]);
    expect(granted.verified).toBe(true);
    expect(granted.body).toMatchObject({
      action: 'grant',
      requestId,
      resource: { id: 'prod-db', target: { role: 'analytics_ro' } },
      user: { slackId: 'UREQ' },
    });

    const revoked = await waitUntil(() => receiver.callsOf('revoke')[0], 10_000);
    const expiresAt = Date.parse(String(revoked.body.expiresAt));
    expect(revoked.verified).toBe(true);
    expect(Date.parse(String(granted.body.expiresAt))).toBe(expiresAt);

    // One DM per moment that matters, each once: the request reaching the approvers (unless
    // it was decided first), the access being active, ending soon, and ended.
    await fake.waitFor((calls) => dmEvents(calls).some((t) => t.includes('has ended')));
    const said = dmEvents(fake.calls);
    expect(said.filter((t) => t.includes('is active until'))).toHaveLength(1);
    expect(said.filter((t) => t.includes('has ended'))).toHaveLength(1);
    expect(said.filter((t) => /was approved/.test(t))).toEqual([]);
    expect(said.length).toBeLessThanOrEqual(4);
    expect(new Set(said).size).toBe(said.length);
    await fake.waitFor((calls) =>
      updates(calls).some((c) => /expired|ended|revoked/i.test(JSON.stringify(c.args.blocks))),
    );
    expect(approverPosts(fake.calls)).toHaveLength(1);
    expect(new Set(updates(fake.calls).map((c) => c.args.ts)).size).toBe(1);

    const status = await sql.all('SELECT status, end_reason FROM grants');
    expect(status).toEqual([{ status: 'revoked', end_reason: 'expired' }]);
    const approvals = await sql.all('SELECT approver FROM approvals');
    expect(approvals).toEqual([{ approver: 'ULEAD' }]);
    const { report } = await running.core.audit.verifyAll([]);
    expect(report).toMatchObject({ intact: true });
    expect(report.checked).toBe(await sql.value<number>('SELECT count(*) FROM audit_events'));
  });

  it('ends access at once when the holder clicks "revoke now" in the DM', async () => {
    await send.command({
      userId: 'UREQ',
      text: 'request prod-db 1h rotating the signing keys today',
      responseUrl: `${fake.url}response/1`,
    });
    // The request is filed after the command is acked.
    const requestId = await waitUntil(() =>
      sql.value<string | undefined>('SELECT id FROM requests'),
    );
    await fake.waitFor((calls) => approverPosts(calls)[0]);
    await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CDBA' },
      }),
    );
    await waitUntil(() => receiver.callsOf('grant')[0]);
    const grantId = await waitUntil(() =>
      sql.value<string | undefined>("SELECT id FROM grants WHERE status = 'active'"),
    );
    const click = await send.interaction(
      buttonClick({
        userId: 'UREQ',
        actionId: ACTIONS.revokeGrant,
        value: grantId,
        source: { kind: 'message', responseUrl: `${fake.url}response/3`, channelId: 'DREQ' },
      }),
    );
    expect(click.status).toBe(200);
    await waitUntil(() => receiver.callsOf('revoke')[0]);
    await waitUntil(() =>
      sql.get("SELECT 1 FROM grants WHERE status = 'revoked' AND end_reason = 'revoked_by_user'"),
    );
    expect(receiver.held.size).toBe(0);
  });

  it('answers /healthz', async () => {
    const res = await fetch(`http://127.0.0.1:${running.port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'ok', leader: true });
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
