import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { main } from '../../src/cli/main';
import type { Clock } from '../../src/core/clock';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
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
