import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { StderrTail } from '../secrets/stderr-tail';
import { abortReason } from './abort';
import {
  callMessage,
  grantResultOf,
  parseAnswer,
  presenceOf,
  type CallAction,
} from './call-message';
import { declaredGuarantees } from './guarantees';
import type { ProviderAdapter, ProviderCallContext } from './types';

/** How long a command may take to exit after SIGTERM before its process group gets SIGKILL. */
const KILL_GRACE_MS = 2_000;
const MAX_STDOUT_BYTES = 1 << 20;
const STDERR_KEEP = 4_096;
const STDERR_EXCERPT = 200;

const commandConfig = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z
    .record(z.string(), z.string())
    .default({})
    .superRefine((env, ctx) => {
      for (const name of Object.keys(env)) {
        const problem = !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
          ? 'is not a valid environment variable name'
          : name.startsWith('HALLPASS_')
            ? 'is set by Hallpass and cannot be overridden'
            : undefined;
        if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    }),
  guarantees: declaredGuarantees,
});

const commandTarget = z.record(z.string(), z.unknown());

export type CommandConfig = z.infer<typeof commandConfig>;
export type CommandTarget = z.infer<typeof commandTarget>;

export const commandAdapter: ProviderAdapter<CommandConfig, CommandTarget> = {
  type: 'command',
  configSchema: commandConfig,
  targetSchema: commandTarget,
  // What runs is what reaches the access (a relative path is the file next to hallpass.yml); its
  // environment may carry a rotated secret.
  placeOf: (config, deps) => ({
    command: config.command.includes('/')
      ? resolve(deps.configDir, config.command)
      : config.command,
    args: config.args,
  }),
  create(config, deps) {
    const executable = resolveExecutable(config.command, deps.configDir);
    const call = async (action: CallAction, ctx: ProviderCallContext<CommandTarget>) =>
      parseAnswer(await run(executable, config, action, ctx), 'command');
    return {
      guarantees: config.guarantees,
      grant: async (ctx) => grantResultOf(await call('grant', ctx)),
      revoke: async (ctx) => {
        await call('revoke', ctx);
      },
      check: async (ctx) => presenceOf(await call('check', ctx), 'command'),
    };
  },
};

/** A path (anything with a slash) is relative to the config file and must exist; a bare name is looked up on PATH when run. */
function resolveExecutable(command: string, configDir: string): string {
  if (!command.includes('/')) return command;
  const path = resolve(configDir, command);
  try {
    accessSync(path, constants.X_OK);
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch {
    throw new Error(`command ${command} is not an executable file (looked at ${path})`);
  }
  return path;
}

/**
 * The command gets PATH, the configured env and the HALLPASS_ variables, not the bot's own
 * environment: that holds the Slack token and database URLs the command has no business with.
 */
function environment(config: CommandConfig, action: CallAction, ctx: ProviderCallContext<unknown>) {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    ...config.env,
    HALLPASS_ACTION: action,
    HALLPASS_GRANT_ID: ctx.grantId,
    HALLPASS_REQUEST_ID: ctx.requestId,
    HALLPASS_RESOURCE_ID: ctx.resource.id,
    HALLPASS_USER_ID: ctx.user.slackId,
    HALLPASS_USER_EMAIL: ctx.user.email ?? '',
    HALLPASS_STARTS_AT: ctx.startsAt.toISOString(),
    HALLPASS_EXPIRES_AT: ctx.expiresAt.toISOString(),
  };
}

/** Runs the command once; resolves with its stdout when it exits 0. */
function run(
  executable: string,
  config: CommandConfig,
  action: CallAction,
  ctx: ProviderCallContext<unknown>,
): Promise<string> {
  const what = `command ${action}`;
  if (ctx.signal.aborted) return Promise.reject(new Error(`${what} ${abortReason(ctx.signal)}`));
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so that an abort also reaches whatever the script started.
    const child = spawn(executable, config.args, {
      env: environment(config, action, ctx),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes <= MAX_STDOUT_BYTES) stdout.push(chunk);
    });
    const stderr = new StderrTail(child.stderr, STDERR_KEEP);
    // A command that does not read its stdin closes the pipe early; that is its choice.
    child.stdin.on('error', () => undefined);
    child.stdin.end(callMessage(action, ctx));

    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      ctx.signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      const tail = stderr.excerpt(STDERR_EXCERPT);
      const withTail = (text: string) => (tail ? `${text}: ${tail}` : text);
      if (ctx.signal.aborted) return reject(new Error(`${what} ${abortReason(ctx.signal)}`));
      if (spawnError) return reject(new Error(`${what} could not start: ${spawnError.message}`));
      if (signal) return reject(new Error(withTail(`${what} was killed by ${signal}`)));
      if (code !== 0) return reject(new Error(withTail(`${what} exited with code ${code}`)));
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        return reject(new Error(`${what} wrote more than ${MAX_STDOUT_BYTES} bytes to stdout`));
      }
      resolvePromise(Buffer.concat(stdout).toString('utf8'));
    });
  });
}
