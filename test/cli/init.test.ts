import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { main } from '../../src/cli/main';
import { parseEnv } from '../../src/config/env';
import { loadConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS } from '../../src/slack/ids';
import { FakeSlack } from '../support/fake-slack';
import { buttonClick, SlackSender } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { runCli } from './run';

const FLAGS = ['--admin', 'UADMIN1', '--approver-channel', 'CAPPROVE', '--channel', 'GSECRET'];

/** Runs `hallpass init` with `answers` typed on stdin, one per line. */
async function initWithAnswers(args: string[], env: NodeJS.ProcessEnv, answers: string[]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  stdin.end(answers.map((a) => `${a}\n`).join(''));
  const code = await main(['init', ...args], { stdin, stdout, stderr, env, clock: Date });
  stdout.end();
  stderr.end();
  await Promise.all([finished(stdout), finished(stderr)]);
  return { code, stdout: out, stderr: err };
}

describe('hallpass init', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('writes a file from flags that `policy check` accepts', async () => {
    const file = join(tmp.dir, 'hallpass.yml');
    const env = { HALLPASS_CONFIG: file, HALLPASS_DB: join(tmp.dir, 'none.db') };
    const result = await runCli(['init', ...FLAGS, '--timezone', 'Europe/Berlin'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`wrote ${file}\n`);
    expect(result.stdout).toContain('/invite @Hallpass');
    expect(await runCli(['policy', 'check'], env)).toEqual({
      code: 0,
      stdout: 'ok: 1 resources, 1 providers\n',
      stderr: '',
    });
    const config = loadConfig(file, {});
    expect(config.admins).toEqual(['UADMIN1']);
    expect(config.timezone).toBe('Europe/Berlin');
    expect(config.requests.approverChannel).toBe('CAPPROVE');
    expect(config.resources).toMatchObject([
      {
        id: 'private-channel',
        provider: 'slack',
        target: { channel: 'GSECRET' },
        approvers: { users: ['UADMIN1'] },
        allowSelfApproval: true,
      },
    ]);
  });

  it('asks for what the flags leave out, again after a wrong answer', async () => {
    const file = join(tmp.dir, 'asked.yml');
    const result = await initWithAnswers(['--file', file], {}, [
      'me',
      'UADMIN1',
      'CAPPROVE',
      'GSECRET',
      '', // the offered time zone
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Your Slack member ID');
    expect(result.stdout).toContain('"me" is not a Slack member ID like U012ABCDEF; try again.');
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(result.stdout).toContain(`Time zone for times in Slack and the digest [${zone}]: `);
    expect(loadConfig(file, {}).timezone).toBe(zone);
  });

  it('says which flag is missing when nothing can be asked', async () => {
    const file = join(tmp.dir, 'hallpass.yml');
    expect(await runCli(['init', '--file', file, '--admin', 'UADMIN1'], {})).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'hallpass: init: --approver-channel is required (Channel where requests are approved (channel name → About → Channel ID at the bottom, C…))\nRun `hallpass help` for usage.\n',
    });
    const ended = await initWithAnswers(['--file', file], {}, ['UADMIN1']);
    expect(ended.code).toBe(2);
    expect(ended.stderr).toContain('hallpass: init: no answer for --approver-channel');
  });

  it('refuses a malformed flag, and keeps an existing file unless --force', async () => {
    const file = join(tmp.dir, 'hallpass.yml');
    const bad = await runCli(['init', '--file', file, ...FLAGS, '--channel', '#secret'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('init: --channel "#secret" is not a Slack channel ID');
    writeFileSync(file, 'mine\n');
    const kept = await runCli(['init', '--file', file, ...FLAGS], {});
    expect(kept.code).toBe(1);
    expect(kept.stderr).toBe(
      `hallpass: init: ${file} exists; keep it, or run again with --force to replace it\n`,
    );
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
    expect((await runCli(['init', '--file', file, ...FLAGS, '--force'], {})).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('type: slack-channel');
  });
});

/**
 * The five-minute start: the file `init` writes, and nothing but Slack (FakeSlack here), runs the
 * whole loop: ask, approve (alone), join the channel, leave it at the end.
 */
describe('a bot started on what `hallpass init` wrote', () => {
  const SIGNING_SECRET = 'init-signing-secret-0123456789';
  let tmp: ReturnType<typeof tempDir>;
  let fake: FakeSlack;
  let running: RunningHallpass;
  let sql: SqlInspector;

  beforeEach(async () => {
    tmp = tempDir();
    fake = await new FakeSlack().start();
    const file = join(tmp.dir, 'hallpass.yml');
    expect((await runCli(['init', '--file', file, ...FLAGS, '--yes'], {})).code).toBe(0);
    const db = join(tmp.dir, 'hallpass.db');
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-init',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: db,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    running = await startHallpass({
      env: parsed.env,
      config: loadConfig(file, {}),
      configDir: tmp.dir,
      logger,
    });
    sql = sqliteInspector(db);
  });
  afterEach(async () => {
    await sql?.close();
    await running?.stop();
    await fake.stop();
    tmp.cleanup();
  });

  it('completes a loop: request, self-approval, invite, revoke, removal', async () => {
    const send = new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
    const asked = await send.command({
      userId: 'UADMIN1',
      text: 'request private-channel 30m trying Hallpass out today',
      responseUrl: `${fake.url}response/1`,
    });
    expect(asked.status).toBe(200);
    const post = await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'CAPPROVE'),
    );
    expect(JSON.stringify(post.args.blocks)).toContain('trying Hallpass out today');
    const requestId = await waitUntil(() =>
      sql.value<string | undefined>('SELECT id FROM requests'),
    );
    const click = await send.interaction(
      buttonClick({
        userId: 'UADMIN1',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CAPPROVE' },
      }),
    );
    expect(click.status).toBe(200);
    const invite = await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'conversations.invite'),
    );
    expect(invite.args).toMatchObject({ channel: 'GSECRET', users: 'UADMIN1' });
    const grantId = await waitUntil(() =>
      sql.value<string | undefined>("SELECT id FROM grants WHERE status = 'active'"),
    );
    await send.interaction(
      buttonClick({
        userId: 'UADMIN1',
        actionId: ACTIONS.revokeGrant,
        value: grantId,
        source: { kind: 'message', responseUrl: `${fake.url}response/3`, channelId: 'DADMIN1' },
      }),
    );
    const kick = await fake.waitFor((calls) =>
      calls.find((c) => c.method === 'conversations.kick'),
    );
    expect(kick.args).toMatchObject({ channel: 'GSECRET', user: 'UADMIN1' });
    await waitUntil(() => sql.get("SELECT 1 FROM grants WHERE status = 'revoked'"));
    expect(fake.members.GSECRET?.has('UADMIN1')).toBe(false);
    const { report } = await running.core.audit.verifyAll([]);
    expect(report.intact).toBe(true);
  });
});

async function waitUntil<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('waitUntil timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
