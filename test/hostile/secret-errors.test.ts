import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { textOf, waitUntil } from '../slack/harness';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { SlackSender } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';
import { captureLogs, type CapturedLogs } from './support';

const SIGNING_SECRET = 'secret-errors-signing-secret-5e1b';
const SEALING_KEY = 'secret-errors-sealing-key-90ac3f';
const HOOK_SECRET = 'secret-errors-webhook-secret-2d7f';
const BOT_TOKEN = 'xoxb-3333-4444-SecretErrorsBot';

/** A value in the shape of an API token, unique per test, and no shape the scrubber knows. */
const apiToken = () => `tok_live_${randomBytes(16).toString('hex')}`;

/** The sweeper gives up on an activation, and alerts on a revoke, after two attempts. */
const SWEEPER = 'sweeper: { retryBase: 1s, retryMax: 1s, alertAfterAttempts: 2 }';

/**
 * What the provider behind `prod-api` runs: it fails every call the way a script wrapping curl
 * does, with curl's error on stderr naming the URL it failed on, token and all: in the query
 * (`access_token=`, a shape the scrubber knows anyway) or, with the argument `path`, as a path
 * segment, where only knowing the value finds it. `$HINT`, when set, is one more line after it
 * (as scripts print), which moves where the excerpt Hallpass keeps of stderr begins.
 */
const CURL_SCRIPT = `#!/bin/sh
cat > /dev/null
case "$1" in
  path) url="https://api.example.com/v1/keys/$API_TOKEN/$HALLPASS_ACTION" ;;
  *) url="https://api.example.com/v1/$HALLPASS_ACTION?access_token=$API_TOKEN" ;;
esac
echo "curl: (22) The requested URL returned error: 401 $url" >&2
if [ -n "$HINT" ]; then echo "$HINT" >&2; fi
exit 22
`;

/**
 * A module adapter that issues credentials the way the postgres provider does (a role and a
 * fresh password, the password declared in `Credentials.secrets`), and whose revoke fails like a
 * driver that quotes the statement it failed on, password literal included.
 */
const PG_LIKE_ADAPTER = `'use strict';
const { randomBytes } = require('node:crypto');
const anything = { safeParse: (value) => ({ success: true, data: value ?? {} }) };
const passwords = new Map();
module.exports = {
  type: 'pg-like',
  configSchema: anything,
  targetSchema: anything,
  create() {
    return {
      guarantees: { enforcesExpiry: true, endsOpenSessions: true, isolation: 'per-grant' },
      async grant(ctx) {
        const role = 'hp_' + ctx.user.slackId.toLowerCase();
        const password = randomBytes(18).toString('base64url');
        passwords.set(ctx.grantId, password);
        return {
          state: { role },
          credentials: {
            text: '• user: \`' + role + '\`\\n• password: \`' + password + '\`',
            secrets: [password],
          },
        };
      },
      async revoke(ctx) {
        const role = ctx.state.role;
        throw new Error(
          'ERROR:  permission denied to alter role (statement: ALTER ROLE "' + role +
            '" WITH PASSWORD \\'' + passwords.get(ctx.grantId) + '\\' VALID UNTIL \\'-infinity\\')',
        );
      },
    };
  },
};
`;

type Places = Record<string, string | Buffer>;

/**
 * Provider errors carry secrets out of the systems they come from: curl prints the URL it
 * failed on (token in the query), a webhook's error body echoes the request's bearer token or a
 * password, a database driver quotes the statement that set a password. The whole process
 * (startHallpass) runs until the sweeper has retried and alerted on such errors; then none of
 * those secrets appears in the audit, the grants (`last_error`), the outbox (payloads and
 * `last_error`), any table, anything sent to Slack, the logs (at debug), or the bytes of the
 * SQLite database and its WAL (while running and after stopping). Each case also checks that the
 * error itself did reach those places, scrubbed, so that the absence proves something.
 */
describe('secrets in provider errors never leave Hallpass', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass | undefined;
  let logs: CapturedLogs;
  let sql: SqlInspector | undefined;
  let send: SlackSender;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    logs = captureLogs('debug');
  });
  afterEach(async () => {
    await sql?.close();
    sql = undefined;
    await running?.stop();
    running = undefined;
    logs.stop();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  const dbFile = () => join(tmp.dir, 'hallpass.db');
  const fileBytes = () =>
    [dbFile(), `${dbFile()}-wal`]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file))
      .reduce((all, bytes) => Buffer.concat([all, bytes]), Buffer.alloc(0));

  async function start(yaml: string, env: Record<string, string>): Promise<SqlInspector> {
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      HALLPASS_SECRET_KEY: SEALING_KEY,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: dbFile(),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml, env);
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
    sql = sqliteInspector(dbFile());
    return sql;
  }

  async function request(db: SqlInspector, text: string): Promise<string> {
    await send.command({ userId: 'UREQ', text, responseUrl: `${fake.url}response/1` });
    return waitUntil(() => db.value<string | undefined>('SELECT id FROM grants'), 'the grant');
  }

  /**
   * Until the sweeper has alerted (on giving up an activation, or on a revoke that keeps
   * failing), retried the revoke at least twice, and every notification went out.
   */
  async function untilAlerted(db: SqlInspector, grantId: string): Promise<void> {
    const count = (action: string) =>
      db.value<number>(
        'SELECT count(*) FROM audit_events WHERE action = ? AND grant_id = ?',
        action,
        grantId,
      );
    await waitUntil(
      async () =>
        (await count('grant.failed')) + (await count('grant.revoke_alerted')) > 0 &&
        (await count('grant.revoke_failed_attempt')) >= 2,
      'the sweeper to alert and retry the revoke',
      15_000,
    );
    await waitUntil(
      async () =>
        Number(await db.value("SELECT count(*) FROM outbox WHERE status = 'pending'")) === 0,
      'every notification to be sent',
    );
  }

  const errorsOf = async (db: SqlInspector, action: string) =>
    (
      await db.all<{ error: string }>(
        `SELECT ${db.json('details', 'error')} AS error FROM audit_events WHERE action = ? ORDER BY seq`,
        action,
      )
    ).map((r) => r.error);

  const alertsTo = (channel: string) =>
    fake.calls
      .filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel)
      .map((c) => textOf(c.args.blocks))
      .filter((t) => t.includes('*Last error*'));

  /** Everywhere a secret could end up; the database file's bytes while running and after stop. */
  async function places(db: SqlInspector, slack: RecordedCall[] = fake.calls): Promise<Places> {
    const table = async (name: string) => JSON.stringify(await db.all(`SELECT * FROM ${name}`));
    const found: Places = {
      audit_events: await table('audit_events'),
      grants: await table('grants'),
      outbox: await table('outbox'),
      requests: await table('requests'),
      slack_messages: await table('slack_messages'),
      people: await table('people'),
      slack: JSON.stringify(slack),
      whileRunning: fileBytes(),
    };
    await db.close();
    sql = undefined;
    await running!.stop();
    running = undefined;
    found.afterStop = fileBytes();
    found.logs = logs.text();
    return found;
  }

  function leaks(secrets: Record<string, string>, where: Places): string[] {
    return Object.entries(secrets).flatMap(([secret, value]) =>
      Object.entries(where)
        .filter(([, text]) => text.includes(value))
        .map(([place]) => `${secret} in ${place}`),
    );
  }

  function writeCurlProvider(): void {
    writeFileSync(join(tmp.dir, 'provider.sh'), CURL_SCRIPT, { mode: 0o755 });
  }

  const commandConfig = (env: string, args: string[] = []) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
${SWEEPER}
providers:
  api:
    type: command
    command: ./provider.sh
    args: [${args.join(', ')}]
    env: { ${env} }
    timeout: 5s
resources:
  - id: prod-api
    name: Production API
    provider: api
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
    approverChannel: CDBA
`;

  it.each([
    ['query', (action: string) => `https://api.example.com/v1/${action}?access_token=[redacted]`],
    ['path', (action: string) => `https://api.example.com/v1/keys/[redacted]/${action}`],
  ])(
    'a command provider failing like curl with ${API_TOKEN} in the URL’s %s',
    async (form, url) => {
      const token = apiToken();
      writeCurlProvider();
      const db = await start(commandConfig("API_TOKEN: '${API_TOKEN}'", [form]), {
        API_TOKEN: token,
      });
      const grantId = await request(db, 'request prod-api 1h rotate the webhook signing keys');
      await untilAlerted(db, grantId);

      // The error went everywhere errors go, with the token taken out.
      const curl = (action: string) =>
        `curl: (22) The requested URL returned error: 401 ${url(action)}`;
      expect(await errorsOf(db, 'grant.activation_failed_attempt')).toEqual([
        `grant: command grant exited with code 22: ${curl('grant')}`,
        `grant: command grant exited with code 22: ${curl('grant')}`,
      ]);
      expect(await errorsOf(db, 'grant.revoke_failed_attempt')).toEqual(
        expect.arrayContaining([`revoke: command revoke exited with code 22: ${curl('revoke')}`]),
      );
      expect(await db.value('SELECT last_error FROM grants WHERE id = ?', grantId)).toBe(
        `revoke: command revoke exited with code 22: ${curl('revoke')}`,
      );
      for (const channel of ['CDBA', 'UADMIN']) {
        expect(alertsTo(channel).some((t) => t.includes(curl('grant')))).toBe(true);
      }
      expect(logs.text()).toContain(url('grant'));

      expect(leaks({ API_TOKEN: token }, await places(db))).toEqual([]);
    },
  );

  it('a command provider whose stderr excerpt begins in the middle of the token', async () => {
    const token = apiToken();
    // Hallpass keeps the last 200 characters of stderr: with this line after curl's, they begin
    // 30 characters before the end of the token, after "access_token=".
    const hint =
      `hint: ${'the API rejected the token in the request above; check API_TOKEN. '.repeat(3)}`
        .slice(0, 169)
        .trimEnd()
        .padEnd(169, '.');
    expect(hint).toHaveLength(169);
    writeCurlProvider();
    // The hint is written into the config as it is: a value taken from the environment would
    // count as a secret itself.
    const db = await start(commandConfig(`API_TOKEN: '\${API_TOKEN}', HINT: '${hint}'`), {
      API_TOKEN: token,
    });
    const grantId = await request(db, 'request prod-api 1h rotate the webhook signing keys');
    await untilAlerted(db, grantId);
    const [first] = await errorsOf(db, 'grant.activation_failed_attempt');
    expect(first).toContain(hint);

    // Not the token, nor any part of it long enough to narrow it down (12 characters or more).
    const where = await places(db);
    const pieces = Object.entries(where).flatMap(([place, text]) => {
      const piece = longestPiece(token, text, 12);
      return piece ? [`${piece.length} characters of API_TOKEN ("…${piece}…") in ${place}`] : [];
    });
    expect(pieces).toEqual([]);
  });

  it('a webhook whose error body echoes the bearer token and a password= query', async () => {
    const bearer = apiToken();
    const password = `Hunter2-${randomBytes(8).toString('hex')}`;
    const body = `401 Unauthorized: "Authorization: Bearer ${bearer}" was refused by https://idp.example.com/token?user=svc-hallpass&password=${password}`;
    expect(body.length).toBeLessThan(200);
    for (let i = 0; i < 4; i++) receiver.fail({ kind: 'status', status: 401, body });
    const db = await start(
      `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
${SWEEPER}
providers:
  hook:
    type: webhook
    url: '${receiver.url}'
    secret: '\${HOOK_SECRET}'
    headers: { Authorization: 'Bearer \${HOOK_API_TOKEN}' }
    timeout: 5s
resources:
  - id: prod-api
    name: Production API
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
    approverChannel: CDBA
`,
      { HOOK_SECRET, HOOK_API_TOKEN: bearer },
    );
    const grantId = await request(db, 'request prod-api 1h rotate the webhook signing keys');
    await untilAlerted(db, grantId);
    // The fifth call (a revoke) goes through: the clean-up ends.
    await waitUntil(
      () => db.get("SELECT 1 FROM grants WHERE id = ? AND status = 'failed'", grantId),
      'the clean-up to end',
    );
    expect(receiver.callsOf('grant')[0]?.headers.authorization).toBe(`Bearer ${bearer}`);

    const scrubbed =
      'webhook answered 401: 401 Unauthorized: "Authorization: Bearer [redacted]" was refused by https://idp.example.com/token?user=svc-hallpass&password=[redacted]';
    expect(await errorsOf(db, 'grant.activation_failed_attempt')).toEqual([
      `grant: ${scrubbed}`,
      `grant: ${scrubbed}`,
    ]);
    expect(await errorsOf(db, 'grant.revoke_failed_attempt')).toEqual([
      `revoke: ${scrubbed}`,
      `revoke: ${scrubbed}`,
    ]);
    // Slack's mrkdwn escaping turns & into &amp;.
    const inSlack = `grant: ${scrubbed}`.replace(/&/g, '&amp;');
    expect(alertsTo('UADMIN').some((t) => t.includes(inSlack))).toBe(true);
    expect(logs.text()).toContain('Bearer [redacted]');

    expect(leaks({ HOOK_API_TOKEN: bearer, password }, await places(db))).toEqual([]);
  });

  it('a password issued in Credentials.secrets never appears in a later error', async () => {
    writeFileSync(join(tmp.dir, 'pg-like.js'), PG_LIKE_ADAPTER);
    const db = await start(
      `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
${SWEEPER}
providers:
  pg: { type: module, module: ./pg-like.js, timeout: 5s }
resources:
  - id: prod-db
    name: Production database
    provider: pg
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
    approverChannel: CDBA
`,
      {},
    );
    // Three seconds of access: the DM that carries the password goes out while the grant is
    // live, on a machine busy with other suites too (an ended grant's DM rightly shows none).
    const grantId = await request(db, 'request prod-db 3s rotate the replication password');
    // The holder gets the password in a DM, the one place it belongs: it joins the "access is
    // active" DM by an edit.
    const dm = await fake.waitFor((calls) =>
      calls.find(
        (c) =>
          ['chat.postMessage', 'chat.update'].includes(c.method) &&
          ['UREQ', 'DREQ'].includes(String(c.args.channel)) &&
          textOf(c.args.blocks).includes('• password: `'),
      ),
    );
    const password = /• password: `([^`]+)`/.exec(textOf(dm.args.blocks))![1]!;
    expect(password).toHaveLength(24);
    await untilAlerted(db, grantId);

    const failed = await errorsOf(db, 'grant.revoke_failed_attempt');
    expect(failed[0]).toBe(
      `revoke: ERROR:  permission denied to alter role (statement: ALTER ROLE "hp_ureq" WITH PASSWORD '[redacted]' VALID UNTIL '-infinity')`,
    );
    expect(alertsTo('UADMIN').some((t) => t.includes("WITH PASSWORD '[redacted]'"))).toBe(true);

    const everythingButTheDm = fake.calls.filter((c) => c !== dm);
    expect(JSON.stringify(fake.calls)).toContain(password);
    expect(leaks({ password }, await places(db, everythingButTheDm))).toEqual([]);
  });
});

/** The longest piece of `secret`, at least `min` characters long, that `text` holds. */
function longestPiece(secret: string, text: string | Buffer, min: number): string | undefined {
  for (let length = secret.length; length >= min; length--) {
    for (let at = 0; at + length <= secret.length; at++) {
      const piece = secret.slice(at, at + length);
      if (text.includes(piece)) return piece;
    }
  }
  return undefined;
}
