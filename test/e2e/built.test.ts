import { join } from 'node:path';
import { FakeSlack } from '../support/fake-slack';
import {
  BotProcess,
  ensureBuilt,
  isRunning,
  processesInGroup,
  runBuilt,
  type BotExit,
} from '../support/process';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');
const SECRETS = { SLACK_BOT_TOKEN: 'xoxb-built', SLACK_SIGNING_SECRET: 'built-signing-secret' };

/** Resolves with the exit, or rejects if the process is still running after `ms`. */
async function exitWithin(exited: Promise<BotExit>, ms: number): Promise<BotExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

// `npm start` builds dist/ first when it is out of date; these tests run what it builds.
beforeAll(() => ensureBuilt(), 240_000);

describe('node dist/main.js refusing to start', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('names a missing configuration once, and says how to begin', async () => {
    // No HALLPASS_CONFIG: ./hallpass.yml, in the folder it was started from.
    const exit = await runBuilt(SECRETS, tmp.dir);
    const file = join(tmp.dir, 'hallpass.yml');
    expect(exit).toEqual({
      code: 1,
      signal: null,
      stdout: '',
      stderr:
        `hallpass: ${file}: cannot read configuration (ENOENT)\n` +
        `hallpass: to begin, run \`npx hallpass init --file ${file}\` or copy ${join(ROOT, 'hallpass.example.yml')} there and edit it; or set HALLPASS_CONFIG to your configuration file\n`,
    });
  });

  it('names a configuration it cannot read once', async () => {
    const exit = await runBuilt({ ...SECRETS, HALLPASS_CONFIG: tmp.dir }, tmp.dir);
    expect(exit).toEqual({
      code: 1,
      signal: null,
      stdout: '',
      stderr: `hallpass: ${tmp.dir}: cannot read configuration (EISDIR)\n`,
    });
  });

  it('names a relative HALLPASS_CONFIG by where it was looked for', async () => {
    const exit = await runBuilt({ ...SECRETS, HALLPASS_CONFIG: 'conf/jit.yml' }, tmp.dir);
    const file = join(tmp.dir, 'conf', 'jit.yml');
    expect(exit.stderr.split('\n')[0]).toBe(
      `hallpass: ${file}: cannot read configuration (ENOENT)`,
    );
  });

  it('refuses a LOG_LEVEL that names no level, alongside every other problem', async () => {
    const exit = await runBuilt({ LOG_LEVEL: 'verbose2' }, tmp.dir);
    expect(exit).toEqual({
      code: 1,
      signal: null,
      stdout: '',
      stderr:
        'hallpass: SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-…)\n' +
        'hallpass: LOG_LEVEL must be one of error, warn, info, http, verbose, debug, silly or silent (in any case), not "verbose2"\n' +
        'hallpass: SLACK_SIGNING_SECRET is not set (Basic Information → Signing Secret; or set SLACK_APP_TOKEN for Socket Mode)\n',
    });
  });
});

describe('npm start', () => {
  let tmp: ReturnType<typeof tempDir>;
  let fake: FakeSlack;
  beforeEach(async () => {
    tmp = tempDir();
    fake = await new FakeSlack().start();
  });
  afterEach(async () => {
    await BotProcess.killAll();
    await fake.stop();
    tmp.cleanup();
  });

  it('stops the bot gracefully when the npm process alone gets SIGTERM', async () => {
    const npm = await BotProcess.start(
      {
        ...SECRETS,
        SLACK_API_URL: fake.url,
        OPS_HOOK_SECRET: 'ops-hook-secret-value',
        HALLPASS_CONFIG: join(ROOT, 'hallpass.example.yml'),
        HALLPASS_DB: join(tmp.dir, 'data', 'hallpass.db'),
        PORT: '0',
        HOST: '127.0.0.1',
      },
      60_000,
      'npm start',
    );
    const bots = processesInGroup(npm.pid).filter(
      (p) => p.args.length === 2 && p.args[0] === 'node' && p.args[1] === 'dist/main.js',
    );
    expect(bots).toHaveLength(1);
    const bot = bots[0]!;
    try {
      const health = await fetch(`${npm.url}/healthz`);
      expect({ status: health.status, body: await health.json() }).toEqual({
        status: 200,
        body: { status: 'ok', database: 'ok', leader: true },
      });

      // As `docker stop` or a supervisor does: the signal goes to the process it started only.
      npm.signalLeader('SIGTERM');
      // npm exits with the bot's own status once the bot has exited.
      expect(await exitWithin(npm.exited, 20_000)).toEqual({ code: 0, signal: null });
      expect(await until(() => !isRunning(bot.pid), 5_000)).toBe(true);
      const stopping = npm.logs.filter((line) => line.message === 'stopping');
      expect(stopping).toMatchObject([{ level: 'info', signal: 'SIGTERM' }]);
      expect(npm.logs.filter((line) => line.level !== 'info')).toEqual([]);
    } finally {
      // Without the fix the bot outlives npm, re-parented: end it by its own pid.
      if (isRunning(bot.pid)) process.kill(bot.pid, 'SIGKILL');
    }
  }, 90_000);
});
