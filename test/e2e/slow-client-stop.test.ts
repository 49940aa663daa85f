import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { BotProcess } from '../support/process';
import { FakeSlack } from '../support/fake-slack';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');

/**
 * On `docker stop`'s SIGTERM the bot finishes requests in flight, stops its jobs and closes the
 * database before it exits 0 (docs/operations.md), and compose.yaml gives it 30 s. A connection
 * that never finishes its request headers, which anyone who reaches the port can open, must not
 * hold the stop past that.
 */
describe('a slow client at stop', () => {
  let fake: FakeSlack;
  let tmp: ReturnType<typeof tempDir>;
  let sock: Socket | undefined;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    tmp = tempDir();
  });
  afterEach(async () => {
    sock?.destroy();
    await BotProcess.killAll();
    await fake.stop();
    tmp.cleanup();
  });

  it('a connection that never finishes its headers does not hold SIGTERM past 15 s', async () => {
    const bot = await BotProcess.start({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'test-signing-secret',
      SLACK_API_URL: fake.url,
      OPS_HOOK_SECRET: 'ops-hook-secret-value',
      HALLPASS_CONFIG: join(ROOT, 'hallpass.example.yml'),
      HALLPASS_DB: join(tmp.dir, 'hallpass.db'),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    sock = connect(bot.port, '127.0.0.1');
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock!.once('connect', () => r()));
    sock.write('POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await new Promise((r) => setTimeout(r, 300));

    const asked = Date.now();
    bot.signalProgram('SIGTERM');
    const exit = await Promise.race([
      bot.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    const tookMs = Date.now() - asked;
    expect({ exit, tookMs: tookMs < 15_000 ? 'under 15 s' : tookMs }).toEqual({
      exit: { code: 0, signal: null },
      tookMs: 'under 15 s',
    });
  }, 120_000);
});
