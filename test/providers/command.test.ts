import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../../src/jobs/provider-call';
import { commandAdapter, type CommandTarget } from '../../src/providers/command';
import type { Provider } from '../../src/providers/types';
import { registerSecret } from '../../src/secrets/scrub';
import { tempDir } from '../support/tmp';
import { callContext, providerContract } from './contract';

const TARGET: CommandTarget = { group: 'oncall' };

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function command(configDir: string, settings: Record<string, unknown>): Provider<CommandTarget> {
  return commandAdapter.create(commandAdapter.configSchema.parse(settings), { configDir });
}

/** Gone or a zombie: either way it no longer runs. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Keeps one file per held grant, like a real script keyed by grant id would. */
const GRANTS_SCRIPT = `set -eu
f="$STATE_DIR/$HALLPASS_GRANT_ID"
case "$HALLPASS_ACTION" in
  grant) echo "$HALLPASS_EXPIRES_AT" > "$f" ;;
  revoke) rm -f "$f" ;;
  check) if [ -e "$f" ]; then echo '{"present":true}'; else echo '{"present":false}'; fi ;;
esac`;

providerContract('command', async () => {
  const { dir, cleanup } = tempDir('hallpass-cmd-');
  script(dir, 'grants.sh', GRANTS_SCRIPT);
  script(dir, 'stall.sh', 'sleep 300');
  return {
    provider: command(dir, { command: './grants.sh', env: { STATE_DIR: dir } }),
    target: TARGET,
    held: async (ctx) => (existsSync(join(dir, ctx.grantId)) ? 1 : 0),
    expiryHeld: async (ctx) => {
      const file = join(dir, ctx.grantId);
      return existsSync(file) ? new Date(readFileSync(file, 'utf8').trim()) : null;
    },
    stalled: async () => ({
      provider: command(dir, { command: './stall.sh' }),
      release: async () => undefined,
    }),
    stop: async () => cleanup(),
  };
});

describe('command provider', () => {
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('hallpass-cmd-'));
  });
  afterEach(() => cleanup());

  it('passes the call in HALLPASS_ variables and as JSON on stdin, without the bot environment', async () => {
    script(dir, 'record.sh', `env > "${dir}/env.txt"\ncat > "${dir}/stdin.json"`);
    process.env.HALLPASS_TEST_BOT_TOKEN = 'xoxb-not-for-scripts';
    try {
      const provider = command(dir, {
        command: './record.sh',
        args: [],
        env: { TEAM: 'platform' },
      });
      const ctx = callContext(TARGET);
      await provider.grant(ctx);
      const env = Object.fromEntries(
        readFileSync(join(dir, 'env.txt'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(env).toMatchObject({
        TEAM: 'platform',
        HALLPASS_ACTION: 'grant',
        HALLPASS_GRANT_ID: ctx.grantId,
        HALLPASS_REQUEST_ID: ctx.requestId,
        HALLPASS_RESOURCE_ID: 'contract',
        HALLPASS_USER_ID: ctx.user.slackId,
        HALLPASS_USER_EMAIL: ctx.user.email,
        HALLPASS_STARTS_AT: ctx.startsAt.toISOString(),
        HALLPASS_EXPIRES_AT: ctx.expiresAt.toISOString(),
      });
      expect(env.HALLPASS_TEST_BOT_TOKEN).toBeUndefined();
      expect(JSON.parse(readFileSync(join(dir, 'stdin.json'), 'utf8'))).toEqual({
        action: 'grant',
        grantId: ctx.grantId,
        requestId: ctx.requestId,
        resource: { id: 'contract', target: TARGET },
        user: { slackId: ctx.user.slackId, email: ctx.user.email },
        startsAt: ctx.startsAt.toISOString(),
        expiresAt: ctx.expiresAt.toISOString(),
      });
    } finally {
      delete process.env.HALLPASS_TEST_BOT_TOKEN;
    }
  });

  it('passes args and reads the JSON answer on stdout', async () => {
    script(
      dir,
      'answer.sh',
      `printf '{"state":{"arg":"%s"},"credentials":"ssh %s@bastion"}' "$1" "$HALLPASS_USER_ID"`,
    );
    const provider = command(dir, { command: `${dir}/answer.sh`, args: ['first'] });
    expect(await provider.grant(callContext(TARGET, { user: { slackId: 'U42' } }))).toEqual({
      state: { arg: 'first' },
      credentials: { text: 'ssh U42@bastion' },
    });
  });

  it('ignores stdout that is not an answer, and refuses broken JSON', async () => {
    script(dir, 'chatty.sh', 'echo "granting..."; echo done');
    await expect(
      command(dir, { command: './chatty.sh' }).grant(callContext(TARGET)),
    ).resolves.toEqual({});
    script(dir, 'broken.sh', `echo '{"credentials": '`);
    await expect(
      command(dir, { command: './broken.sh' }).grant(callContext(TARGET)),
    ).rejects.toThrow(/^command answer is not valid JSON/);
    await expect(
      command(dir, { command: './chatty.sh' }).check!(callContext(TARGET)),
    ).rejects.toThrow('command answered check without a boolean "present"');
  });

  it('fails on a non-zero exit with the tail of stderr', async () => {
    script(dir, 'fail.sh', `printf '%0600d' 0 >&2\necho 'role not found' >&2\nexit 3`);
    const error = (await command(dir, { command: './fail.sh' })
      .revoke(callContext(TARGET))
      .catch((err: Error) => err)) as Error;
    expect(error.message).toMatch(/^command revoke exited with code 3: 0+role not found$/);
    expect(error.message.length).toBeLessThan(260);
  });

  // Hallpass keeps the last 4 KiB of stderr as it streams in; a long secret (a session token, no
  // shape scrub knows) printed a few times is cut at that mark, and once the whole copies after it
  // shrink to [redacted], the cut piece would fall inside the 200-character excerpt.
  it('passes on no piece of a registered secret that the stderr window cut through', async () => {
    const token = randomBytes(750).toString('hex');
    registerSecret(token); // as config load does for every ${VAR} value
    script(
      dir,
      'retry.sh',
      `cat > /dev/null
for i in 1 2 3; do echo "attempt $i: X-Session-Token: $SESSION_TOKEN" >&2; done
echo "giving up" >&2
exit 1`,
    );
    const provider = command(dir, { command: './retry.sh', env: { SESSION_TOKEN: token } });
    const error = await provider.revoke(callContext(TARGET)).catch((err: Error) => err);

    const recorded = describeError(error);
    expect(recorded).toMatch(/^command revoke exited with code 1: .*giving up$/s);
    expect(recorded).not.toMatch(/[0-9a-f]{12}/);
  });

  // A character of several bytes can straddle two pipe reads (a script writing in pieces, or a
  // 64 KiB read ending inside one): decoded read by read, both halves became U+FFFD and a secret
  // holding it was no longer recognised.
  it('recognises a registered secret whose character was split between two stderr reads', async () => {
    const secret = 'Pässwort-Geheimnis-4711';
    registerSecret(secret); // as config load does for every ${VAR} value
    // "ä" is C3 A4 in UTF-8: the first byte goes in one write, the second in the next.
    script(
      dir,
      'split.sh',
      `cat > /dev/null
printf 'login failed for P\\303' >&2
sleep 0.3
printf '\\244sswort-Geheimnis-4711\\n' >&2
exit 1`,
    );
    const error = await command(dir, { command: './split.sh' })
      .revoke(callContext(TARGET))
      .catch((err: Error) => err);
    const recorded = describeError(error);
    expect(recorded).toBe('command revoke exited with code 1: login failed for [redacted]');
  });

  it('fails when the program cannot be started', async () => {
    await expect(
      command(dir, { command: 'hallpass-no-such-program' }).grant(callContext(TARGET)),
    ).rejects.toThrow('command grant could not start: spawn hallpass-no-such-program ENOENT');
  });

  it('refuses at creation a path that is not an executable file', () => {
    writeFileSync(join(dir, 'plain.sh'), 'echo hi');
    expect(() => command(dir, { command: './plain.sh' })).toThrow(
      `command ./plain.sh is not an executable file (looked at ${join(dir, 'plain.sh')})`,
    );
    expect(() => command(dir, { command: './missing.sh' })).toThrow(/is not an executable file/);
    expect(() => command(dir, { command: './' })).toThrow(/is not an executable file/);
  });

  it('on abort kills the whole process group, with SIGKILL when SIGTERM is ignored', async () => {
    const pidFile = join(dir, 'child.pid');
    script(dir, 'stubborn.sh', `trap '' TERM\nsleep 300 &\necho $! > "${pidFile}"\nwait`);
    const controller = new AbortController();
    const call = command(dir, { command: './stubborn.sh' }).grant(
      callContext(TARGET, { signal: controller.signal }),
    );
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const child = Number(readFileSync(pidFile, 'utf8'));
    controller.abort(new DOMException('slow', 'TimeoutError'));
    await expect(call).rejects.toThrow('command grant timed out');
    await until(() => !running(child));
  });
});
