import { join } from 'node:path';
import { ensureBuilt, runBuilt } from '../support/process';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');
const SECRETS = { SLACK_BOT_TOKEN: 'xoxb-built', SLACK_SIGNING_SECRET: 'built-signing-secret' };

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
        `hallpass: to begin, copy ${join(ROOT, 'hallpass.example.yml')} to ${file} and edit it, or set HALLPASS_CONFIG to your configuration file\n`,
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
