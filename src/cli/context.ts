import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { envSchema } from '../config/env';
import { ConfigError, loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import { openDb, type Db } from '../store/db';

/** What a command runs with: the process's streams, environment and clock, or a test's. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  clock: Clock;
}

/** Exit codes: 1 a problem was found or the command failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

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

const pathsSchema = envSchema.pick({ HALLPASS_DB: true, HALLPASS_CONFIG: true });

export function paths(io: CliIo): { db: string; config: string } {
  const parsed = pathsSchema.parse(
    Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== '')),
  );
  return { db: parsed.HALLPASS_DB, config: parsed.HALLPASS_CONFIG };
}

/** How long a command waits for a lock another process holds before it gives up. */
function busyTimeoutMs(io: CliIo): number {
  const ms = Number(io.env.HALLPASS_BUSY_TIMEOUT_MS ?? 2000);
  return Number.isFinite(ms) && ms >= 0 ? ms : 2000;
}

function openExisting(io: CliIo, readonly: boolean): { db: Db; file: string } {
  const file = paths(io).db;
  if (!existsSync(file)) throw new CliError(`no database at ${file} (set HALLPASS_DB)`);
  try {
    return { db: openDb(file, { readonly, busyTimeoutMs: busyTimeoutMs(io) }), file };
  } catch (err) {
    throw explainDbError(err, file);
  }
}

/**
 * Runs `fn` on the database, opened read-only unless `write`; closes it afterwards and turns
 * SQLite's errors into sentences naming the file.
 */
export async function withDb<T>(
  io: CliIo,
  fn: (db: Db) => T | Promise<T>,
  write = false,
): Promise<T> {
  const { db, file } = openExisting(io, !write);
  try {
    return await fn(db);
  } catch (err) {
    throw explainDbError(err, file);
  } finally {
    db.$client.close();
  }
}

/**
 * By shape rather than `instanceof`: better-sqlite3's native part keeps the first SqliteError
 * class it was given, from whichever module graph loaded it first (several do under jest).
 */
function isSqliteError(err: unknown): err is Error & { code: string } {
  const e = err as { name?: unknown; code?: unknown } | null;
  return typeof e === 'object' && e?.name === 'SqliteError' && typeof e.code === 'string';
}

export function explainDbError(err: unknown, file: string): unknown {
  if (!isSqliteError(err)) return err;
  if (err.code === 'SQLITE_BUSY' || err.code.startsWith('SQLITE_BUSY_')) {
    return new CliError(
      `the database at ${file} is locked by another process (${err.code}); try again in a moment`,
    );
  }
  if (err.code === 'SQLITE_NOTADB') return new CliError(`${file} is not a SQLite database`);
  if (err.code === 'SQLITE_CANTOPEN') return new CliError(`cannot open the database at ${file}`);
  if (/no such table/.test(err.message)) {
    return new CliError(
      `the database at ${file} lacks Hallpass tables (${err.message}); start the bot once on it to create or migrate them`,
    );
  }
  return new CliError(`database error on ${file}: ${err.message} (${err.code})`);
}

/** The configuration from HALLPASS_CONFIG (or `file`), or a CliError listing its problems. */
export function cliConfig(io: CliIo, file?: string): { config: Config; file: string } {
  const path = resolve(file ?? paths(io).config);
  try {
    return { config: loadConfig(path, io.env), file: path };
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CliError(err.problems.map((p) => `${path}: ${p}`).join('\n'));
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
