import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { CommandSourceConfig } from '../config/rules';
import { abortReason } from '../providers/abort';
import { StderrTail } from '../secrets/stderr-tail';
import { parseOnCallAnswer } from './answer';

const MAX_STDOUT_BYTES = 1 << 20;
const STDERR_EXCERPT = 200;
const KILL_GRACE_MS = 2_000;

/**
 * Runs a command that prints who is on call. It gets PATH and the source's name, not the bot's
 * environment (the Slack token and database URLs are none of its business); a relative path is
 * relative to hallpass.yml.
 */
export function commandOnCall(
  name: string,
  config: CommandSourceConfig,
  configDir: string,
  signal: AbortSignal,
): Promise<string[]> {
  const what = `on-call command ${config.command}`;
  if (signal.aborted) return Promise.reject(new Error(`${what} ${abortReason(signal)}`));
  const executable = config.command.includes('/')
    ? resolve(configDir, config.command)
    : config.command;
  return new Promise((done, fail) => {
    const child = spawn(executable, config.args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HALLPASS_ONCALL_SOURCE: name },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also stops whatever it started.
      detached: true,
    });
    const stdout: Buffer[] = [];
    let bytes = 0;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_STDOUT_BYTES) stdout.push(chunk);
    });
    const stderr = new StderrTail(child.stderr, 4 * STDERR_EXCERPT);
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const tail = stderr.excerpt(STDERR_EXCERPT);
      const withTail = (text: string) => (tail ? `${text}: ${tail}` : text);
      if (signal.aborted) return fail(new Error(`${what} ${abortReason(signal)}`));
      if (spawnError) return fail(new Error(`${what} could not start: ${spawnError.message}`));
      if (sig) return fail(new Error(withTail(`${what} was killed by ${sig}`)));
      if (code !== 0) return fail(new Error(withTail(`${what} exited with code ${code}`)));
      if (bytes > MAX_STDOUT_BYTES)
        return fail(new Error(`${what} wrote more than ${MAX_STDOUT_BYTES} bytes`));
      try {
        done(parseOnCallAnswer(Buffer.concat(stdout).toString('utf8'), what));
      } catch (err) {
        fail(err as Error);
      }
    });
  });
}
