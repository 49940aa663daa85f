import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS } from '../../src/slack/ids';
import { FakeSlack } from '../support/fake-slack';
import { FakeSocketMode } from '../support/fake-socket-mode';
import { appHomeOpened, buttonClick, slashCommandBody } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const HOOK_SECRET = 'socket-webhook-secret-value';

const yaml = (hookUrl: string) => `
timezone: UTC
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
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
`;

async function waitUntil<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('waitUntil timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The whole loop over Socket Mode, no HTTP endpoint and no signing secret: Slack's side is a
 * loopback server that answers apps.connections.open with a ws:// URL, says hello, and sends
 * the command, the click and the event as envelopes the bot must acknowledge.
 */
describe('Socket Mode, end to end', () => {
  let fake: FakeSlack;
  let socket: FakeSocketMode;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass;
  let sql: SqlInspector;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    socket = await new FakeSocketMode(fake).start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    const file = join(tmp.dir, 'hallpass.db');
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-socket',
      SLACK_APP_TOKEN: 'xapp-1-socket-app-token',
      SLACK_API_URL: fake.url,
      HALLPASS_DB: file,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    sql = sqliteInspector(file);
    await socket.connected();
  });

  afterEach(async () => {
    await sql?.close();
    await running?.stop();
    await socket.stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const command = (userId: string, text: string) =>
    Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({ userId, text, responseUrl: `${fake.url}response/${userId}` }),
      ),
    );

  it('files, approves, grants and ends access, each envelope acknowledged', async () => {
    expect(fake.callsOf('apps.connections.open')[0]?.token).toBe('xapp-1-socket-app-token');
    const asked = await socket.send(
      'slash_commands',
      command('UREQ', 'request prod-db 2s investigating INC-42 slow queries'),
    );
    expect(asked.envelope_id).toBeDefined();
    const requestId = await waitUntil(() =>
      sql.value<string | undefined>('SELECT id FROM requests'),
    );
    const post = await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'CDBA'),
    );
    expect(JSON.stringify(post.args.blocks)).toContain('investigating INC-42 slow queries');

    // Not an approver: acknowledged, told so, nothing changes.
    await socket.send(
      'interactive',
      buttonClick({
        userId: 'URANDOM',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/x`, channelId: 'CDBA' },
      }),
    );
    expect(await sql.value<string>('SELECT status FROM requests')).toBe('pending');
    await socket.send(
      'interactive',
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/y`, channelId: 'CDBA' },
      }),
    );
    const granted = await waitUntil(() => receiver.callsOf('grant')[0]);
    expect(granted.body).toMatchObject({ action: 'grant', requestId, user: { slackId: 'UREQ' } });
    await waitUntil(() => receiver.callsOf('revoke')[0], 15_000);
    await waitUntil(() =>
      sql.get("SELECT 1 FROM grants WHERE status = 'revoked' AND end_reason = 'expired'"),
    );

    await socket.send('events_api', appHomeOpened({ userId: 'UREQ' }));
    const home = await fake.waitFor((calls) => calls.find((c) => c.method === 'views.publish'));
    expect(home.args.user_id).toBe('UREQ');
    expect(socket.connections).toBe(1);

    const health = await fetch(`http://127.0.0.1:${running.port}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok', leader: true });
    const metrics = await fetch(`http://127.0.0.1:${running.port}/metrics`);
    expect(await metrics.text()).toMatch(
      /^hallpass_requests_decided_total\{outcome="approved",kind="access"\} 1$/m,
    );
  }, 60_000);

  it('acknowledges and drops bodies Hallpass never asked for, as over HTTP', async () => {
    const warnings: unknown[] = [];
    const spy = jest.spyOn(logger, 'warn').mockImplementation((...args: unknown[]) => {
      warnings.push(args);
      return logger;
    });
    try {
      const bad = [
        { type: 'block_actions', user: null, actions: [] },
        { type: 'view_submission', user: { id: 'UREQ' } },
        { command: '/jit', text: 'list' }, // no user_id, trigger_id or response_url
        { type: 'event_callback', event: { type: 'app_home_opened' } },
      ];
      for (const [i, payload] of bad.entries()) {
        const kind = i === 3 ? 'events_api' : i === 2 ? 'slash_commands' : 'interactive';
        const ack = await socket.send(kind, payload);
        expect(ack.payload ?? {}).toEqual({});
      }
      expect(warnings).toHaveLength(bad.length);
      expect(JSON.stringify(warnings[0])).toContain(
        'slack request with a body Hallpass does not handle',
      );
      // Nothing reached a listener, and the connection still serves a good request.
      expect(
        fake.calls.filter((c) => c.method !== 'auth.test' && c.method !== 'apps.connections.open'),
      ).toEqual([]);
      await socket.send(
        'slash_commands',
        command('UREQ', 'request prod-db 1h rotating the signing keys'),
      );
      await waitUntil(() => sql.value<string | undefined>('SELECT id FROM requests'));
    } finally {
      spy.mockRestore();
    }
  }, 30_000);
});
