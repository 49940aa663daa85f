import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS } from '../../src/slack/ids';
import { textOf, waitUntil } from '../slack/harness';
import { FakeSlack } from '../support/fake-slack';
import { buttonClick, SlackSender } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';
import { captureLogs, type CapturedLogs } from './support';

const SECRETS = {
  botToken: 'xoxb-1111-2222-BotTokenNeverLogged',
  signingSecret: 'signing-secret-never-logged-8f3a',
  sealingKey: 'sealing-key-never-stored-4c1d9e',
  webhookSecret: 'webhook-secret-never-logged-77b2',
  password: 'Pa55word-issued-once-6d0e1f',
};

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
 * The whole process, every log line captured (at debug, so info and above are covered too),
 * through a grant whose provider answers with a password: the bot token, the signing secret, the
 * sealing key, the webhook secret and the password appear in none of the logs, the audit, the
 * outbox, or the bytes of the SQLite files (database and write-ahead log, while running and after
 * stopping). The password does reach the holder's DM: that is the one place it belongs.
 */
describe('secrets stay out of logs, audit and the database', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass | undefined;
  let logs: CapturedLogs;
  let sql: SqlInspector | undefined;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(SECRETS.webhookSecret).start();
    receiver.answers.grant = () => ({
      credentials: { text: `user: app_ro\npassword: ${SECRETS.password}` },
    });
    tmp = tempDir();
    logs = captureLogs('debug');
  });
  afterEach(async () => {
    await sql?.close();
    await running?.stop();
    logs.stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const dbFile = () => join(tmp.dir, 'hallpass.db');
  /** The database file and its write-ahead log, as they are on disk right now. */
  const fileBytes = () =>
    [dbFile(), `${dbFile()}-wal`]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file))
      .reduce((all, bytes) => Buffer.concat([all, bytes]), Buffer.alloc(0));

  it('through request, approval, grant with credentials, DM and expiry', async () => {
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: SECRETS.botToken,
      SLACK_SIGNING_SECRET: SECRETS.signingSecret,
      HALLPASS_SECRET_KEY: SECRETS.sealingKey,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: dbFile(),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url), { HOOK_SECRET: SECRETS.webhookSecret });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    const send = new SlackSender(
      `http://127.0.0.1:${running.port}/slack/events`,
      SECRETS.signingSecret,
    );
    // Read as an operator would, on a connection of its own.
    sql = sqliteInspector(dbFile());
    const db = sql;

    await send.command({
      userId: 'UREQ',
      text: 'request prod-db 2s rotating keys for INC-7',
      responseUrl: `${fake.url}response/1`,
    });
    const requestId = await waitUntil(
      () => db.value<string | undefined>('SELECT id FROM requests'),
      'the request',
    );
    await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CDBA' },
      }),
    );
    // The password was issued and delivered, as the provider wrote it: the test would prove
    // nothing otherwise. It joins the "access is active" DM, by an edit.
    const dm = await fake.waitFor((calls) =>
      calls.find(
        (c) =>
          (c.method === 'chat.postMessage' || c.method === 'chat.update') &&
          JSON.stringify(c.args).includes(SECRETS.password),
      ),
    );
    expect(textOf(dm.args.blocks)).toContain(`user: app_ro\npassword: ${SECRETS.password}`);
    expect(receiver.callsOf('grant')[0]?.verified).toBe(true);
    await waitUntil(
      () => db.get("SELECT 1 FROM grants WHERE status = 'revoked'"),
      'the grant to end',
      10_000,
    );
    await waitUntil(
      async () => !(await db.get("SELECT 1 FROM outbox WHERE status = 'pending'")),
      'every notification to be delivered',
    );

    const audit = JSON.stringify(await db.all('SELECT * FROM audit_events'));
    const outbox = JSON.stringify(await db.all('SELECT * FROM outbox'));
    expect(outbox).toContain('"topic":"credentials"');
    const whileRunning = fileBytes();
    await db.close();
    sql = undefined;
    await running.stop();
    running = undefined;
    const afterStop = fileBytes();
    const logText = logs.text();
    expect(logText).toContain('hallpass started');

    const places = { logs: logText, audit, outbox, whileRunning, afterStop };
    const found = Object.entries(SECRETS).flatMap(([secret, value]) =>
      Object.entries(places)
        .filter(([, where]) => where.includes(value))
        .map(([where]) => `${secret} in ${where}`),
    );
    expect(found).toEqual([]);
  });
});
