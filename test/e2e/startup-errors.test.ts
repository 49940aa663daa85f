import { createServer } from 'node:net';
import { join } from 'node:path';
import { FakeSlack } from '../support/fake-slack';
import { BotProcess } from '../support/process';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');

/** A loopback port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * What an operator sees when the first start fails at Slack: one line on stderr naming the call,
 * where it went and what to do, exit 1, and nothing served.
 */
describe('the bot refusing to start at Slack', () => {
  let tmp: ReturnType<typeof tempDir>;
  let fake: FakeSlack;
  const env = (extra: Record<string, string>) => ({
    SLACK_BOT_TOKEN: 'xoxb-start-test',
    SLACK_SIGNING_SECRET: 'start-test-signing-secret',
    OPS_HOOK_SECRET: 'ops-hook-secret-value',
    HALLPASS_CONFIG: join(ROOT, 'hallpass.example.yml'),
    HALLPASS_DB: join(tmp.dir, 'hallpass.db'),
    PORT: '0',
    HOST: '127.0.0.1',
    ...extra,
  });
  const failedStart = async (extra: Record<string, string>) => {
    const bot = BotProcess.spawn(env(extra));
    const exit = await bot.exited;
    return {
      exit,
      stderr: bot.stderr,
      started: bot.logs.some((l) => l.message === 'hallpass started'),
    };
  };

  beforeEach(async () => {
    tmp = tempDir();
    fake = await new FakeSlack().start();
  });
  afterEach(async () => {
    await BotProcess.killAll();
    await fake.stop();
    tmp.cleanup();
  });

  it('names the URL and the call when Slack cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/api/`;
    const result = await failedStart({ SLACK_API_URL: url });
    expect(result).toEqual({
      exit: { code: 1, signal: null },
      stderr: `hallpass: cannot reach Slack: auth.test to ${url}auth.test failed (ECONNREFUSED); check this host's network and proxy, and SLACK_API_URL\n`,
      started: false,
    });
  }, 30_000);

  it('names the bot token when Slack rejects it', async () => {
    fake.fail('auth.test', { kind: 'error', error: 'invalid_auth' });
    const result = await failedStart({ SLACK_API_URL: fake.url });
    expect(result.exit).toEqual({ code: 1, signal: null });
    expect(result.stderr).toBe(
      'hallpass: Slack rejected SLACK_BOT_TOKEN (auth.test answered invalid_auth): copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions; if the app was uninstalled or the token revoked, reinstall it to the workspace first\n',
    );
    expect(result.stderr).not.toContain('xoxb-start-test');
  }, 30_000);

  it('names the app token when Slack rejects it for Socket Mode', async () => {
    fake.fail('apps.connections.open', { kind: 'error', error: 'invalid_auth' });
    const result = await failedStart({
      SLACK_API_URL: fake.url,
      SLACK_APP_TOKEN: 'xapp-1-start-test',
      SLACK_SIGNING_SECRET: '',
    });
    expect(result.exit).toEqual({ code: 1, signal: null });
    expect(result.stderr).toBe(
      'hallpass: Slack rejected SLACK_APP_TOKEN (apps.connections.open answered invalid_auth): create an app-level token with the connections:write scope under Basic Information → App-Level Tokens, and turn Socket Mode on, or unset SLACK_APP_TOKEN to receive requests over HTTP\n',
    );
    // The bot token was fine: auth.test came first and passed.
    expect(fake.callsOf('auth.test')).toHaveLength(1);
  }, 30_000);

  it('refuses the docs’ placeholder token before calling Slack', async () => {
    const result = await failedStart({ SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: 'xoxb-…' });
    expect(result.exit).toEqual({ code: 1, signal: null });
    expect(result.stderr).toBe(
      'hallpass: SLACK_BOT_TOKEN is not a real value (it holds "…", a space or another character Slack never puts in one): paste the Bot User OAuth Token from OAuth & Permissions\n',
    );
    expect(fake.calls).toEqual([]);
  }, 30_000);
});
