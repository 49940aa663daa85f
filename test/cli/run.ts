import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { main } from '../../src/cli/main';
import type { Clock } from '../../src/core/clock';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment that points the CLI at a test store: its SQLite file, or for PostgreSQL its
 * URL (which then wins over the file).
 */
export function cliEnv(
  location: { file: string; databaseUrl?: string },
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    HALLPASS_DB: location.file,
    ...(location.databaseUrl ? { HALLPASS_DATABASE_URL: location.databaseUrl } : {}),
    ...extra,
  };
}

/** Runs the real CLI in this process, capturing what it prints. */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  clock: Clock = { now: () => Date.now() },
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(argv, { stdout, stderr, env, clock });
  stdout.end();
  stderr.end();
  await Promise.all([finished(stdout), finished(stderr)]);
  return {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}
