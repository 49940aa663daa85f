import { connect } from 'node:net';
import { join } from 'node:path';
import { BotProcess } from '../support/process';
import { FakeSlack } from '../support/fake-slack';
import { FakeSocketMode } from '../support/fake-socket-mode';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');

/** One raw HTTP/1.1 request with its target exactly as given; resolves with the status line. */
function rawRequest(port: number, target: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    const done = () => resolve(data.split('\r\n')[0] ?? '');
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

async function healthz(port: number): Promise<number | string> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  } catch (err) {
    return String(err);
  }
}

/**
 * Anyone who reaches the port can send a request target that `new URL(target, base)` cannot
 * parse (`//`): it is answered 400, and the process, in Socket Mode too, keeps running.
 */
describe('an unparsable request target', () => {
  let fake: FakeSlack;
  let socket: FakeSocketMode | undefined;
  let tmp: ReturnType<typeof tempDir>;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    tmp = tempDir();
  });
  afterEach(async () => {
    await BotProcess.killAll();
    await socket?.stop();
    socket = undefined;
    await fake.stop();
    tmp.cleanup();
  });

  it('Socket Mode: GET // gets a 4xx and the process keeps running', async () => {
    socket = await new FakeSocketMode(fake).start();
    const bot = await BotProcess.start({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_APP_TOKEN: 'xapp-1-test-app-token',
      SLACK_API_URL: fake.url,
      OPS_HOOK_SECRET: 'ops-hook-secret-value',
      HALLPASS_CONFIG: join(ROOT, 'hallpass.example.yml'),
      HALLPASS_DB: join(tmp.dir, 'hallpass.db'),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const port = bot.port;
    expect(await healthz(port)).toBe(200);

    const status = await rawRequest(port, '//');
    await new Promise((r) => setTimeout(r, 500));

    expect(bot.crash).toBeUndefined();
    expect(status).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(await healthz(port)).toBe(200);
  }, 120_000);

  it('HTTP mode: GET // answers 4xx, not a 500 logged as an unexpected error', async () => {
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
    const status = await rawRequest(bot.port, '//');
    await new Promise((r) => setTimeout(r, 300));
    expect(status).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(bot.logs.filter((l) => l.level === 'error')).toEqual([]);
  }, 120_000);
});
