import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { envSchema } from '../config/env';
import { ConfigError, ConfigUnreadable, loadConfigText } from '../config/load';
import type { Config } from '../config/schema';
import { AuditReads } from '../core';
import type { Clock } from '../core/clock';
import { openStore, type Store } from '../store';
import { describeStoreError } from '../store/errors';

/** What a command runs with: the process's streams, environment and clock, or a test's. */
export interface CliIo {
  /** Where a command that asks (`init`) reads its answers; none: it only takes flags. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  clock: Clock;
}

/** Exit codes: 1 a problem was found or the command failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** What follows a grant ended from the CLI: the CLI only records it, the bot's sweeper acts. */
export const BOT_TAKES_IT_AWAY =
  'The running bot takes the access away at the provider and confirms it (if the bot is down, it does so when it starts).';

/** A failure the user can act on: printed as `hallpass: <message>`, exits with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const pathsSchema = envSchema.pick({
  HALLPASS_DB: true,
  HALLPASS_CONFIG: true,
  HALLPASS_DATABASE_URL: true,
});

export function paths(io: CliIo): { db: string; config: string; databaseUrl?: string } {
  const parsed = pathsSchema.safeParse(
    Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    throw new CliError(parsed.error.issues.map((i) => i.message).join('\n'));
  }
  return {
    db: parsed.data.HALLPASS_DB,
    config: parsed.data.HALLPASS_CONFIG,
    databaseUrl: parsed.data.HALLPASS_DATABASE_URL,
  };
}

/** How long a command waits for a lock another process holds before it gives up. */
export function busyTimeoutMs(io: CliIo): number {
  const ms = Number(io.env.HALLPASS_BUSY_TIMEOUT_MS ?? 2000);
  return Number.isFinite(ms) && ms >= 0 ? ms : 2000;
}

/**
 * Runs `fn` on the store the environment names (HALLPASS_DATABASE_URL, else the SQLite file at
 * HALLPASS_DB, opened read-only unless `write`); closes it afterwards and turns database errors
 * into sentences naming where.
 */
export async function withStore<T>(
  io: CliIo,
  fn: (store: Store) => Promise<T>,
  write = false,
): Promise<T> {
  const where = paths(io);
  const name = where.databaseUrl ? 'HALLPASS_DATABASE_URL' : where.db;
  if (!where.databaseUrl && !existsSync(where.db)) {
    throw new CliError(`no database at ${where.db} (set HALLPASS_DB or HALLPASS_DATABASE_URL)`);
  }
  let store: Store;
  try {
    store = await openStore(
      { databaseUrl: where.databaseUrl, file: where.db },
      { readonly: !write, busyTimeoutMs: busyTimeoutMs(io) },
    );
  } catch (err) {
    throw explainStoreError(err, name);
  }
  try {
    return await fn(store);
  } catch (err) {
    throw explainStoreError(err, name);
  } finally {
    await store.close();
  }
}

/** The audit log's reads on the store, for the commands that need no configuration. */
export function withAudit<T>(io: CliIo, fn: (audit: AuditReads) => Promise<T>): Promise<T> {
  return withStore(io, (store) => fn(new AuditReads(store, io.clock)));
}

function explainStoreError(err: unknown, where: string): unknown {
  if (err instanceof CliError) return err;
  const sentence = describeStoreError(err, where);
  return sentence ? new CliError(sentence) : err;
}

/**
 * The configuration from HALLPASS_CONFIG, or a CliError listing its problems. Commands that
 * call no provider leave `${VAR}`s that are unset here unset (provider secrets usually live only
 * where the bot runs); `providerSecrets` demands them.
 */
export function cliConfig(
  io: CliIo,
  options: { providerSecrets?: boolean } = {},
): { config: Config; file: string; unset: string[] } {
  const path = resolve(paths(io).config);
  try {
    const { config, unset } = loadConfigText(path, io.env, {
      allowUnset: !options.providerSecrets,
    });
    return { config, file: path, unset };
  } catch (err) {
    if (err instanceof ConfigError) {
      // An unreadable file's one line names the file already.
      const lines =
        err instanceof ConfigUnreadable ? err.problems : err.problems.map((p) => `${path}: ${p}`);
      throw new CliError(lines.join('\n'));
    }
    throw err;
  }
}

/** Writes `text` and waits while the stream is full, so big outputs stream instead of piling up. */
export async function write(stream: Writable, text: string): Promise<void> {
  if (stream.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', drained);
      stream.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const drained = () => done();
    stream.once('drain', drained);
    stream.once('error', done);
  });
}
