/**
 * What a database error means for the person who hit it, whichever database it came from.
 * Errors are recognised by shape, since their classes may come from another copy of the driver.
 */

import { CHANGES_QUEUED } from './change-queue';

interface DriverError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as DriverError | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isSqliteError(err: unknown): boolean {
  return (err as DriverError | null)?.name === 'SqliteError';
}

/** SQLSTATEs of a PostgreSQL that is busy: a lock or statement timeout, or too many clients. */
const PG_BUSY = new Set(['55P03', '57014', '53300', '40001', '40P01']);
/** Node's socket errors when the database cannot be reached at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/**
 * The database is busy or out of reach for the moment: another process holds its lock past the
 * timeout, the server does not answer, or this process already has too many changes waiting.
 * The change was rolled back whole or never began; trying again later is the fix.
 */
export function isStoreBusy(err: unknown): boolean {
  const code = codeOf(err);
  if (code === undefined) {
    // pg reports a connection the server cut with a message and no code: to the statement
    // running then, and to each one sent on it after (whose transaction was never committed).
    const message = (err as DriverError | null)?.message;
    return (
      typeof message === 'string' &&
      /^Connection terminated|connection error and is not queryable$/.test(message)
    );
  }
  if (code === CHANGES_QUEUED) return true;
  if (isSqliteError(err)) return code.startsWith('SQLITE_BUSY');
  // 08…: connection exceptions; 57P0…: the server is shutting down, crashed or starting up.
  return (
    PG_BUSY.has(code) || UNREACHABLE.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)
  );
}

/** A sentence naming `where` for an error that came from the database, or undefined. */
export function describeStoreError(err: unknown, where: string): string | undefined {
  const code = codeOf(err);
  const message = String((err as DriverError | null)?.message ?? err);
  if (isSqliteError(err) && code) {
    if (code.startsWith('SQLITE_BUSY'))
      return `the database at ${where} is locked by another process (${code}); try again in a moment`;
    if (code === 'SQLITE_NOTADB') return `${where} is not a SQLite database`;
    if (code === 'SQLITE_CANTOPEN') return `cannot open the database at ${where}`;
    if (/no such table/.test(message))
      return `the database at ${where} lacks Hallpass tables (${message}); start the bot once on it to create or migrate them`;
    return `database error on ${where}: ${message} (${code})`;
  }
  if (code === CHANGES_QUEUED)
    return `${message} (${where}); the database is falling behind: try again in a moment, and if it lasts, look for slow statements or raise HALLPASS_DATABASE_QUEUE`;
  if (code && UNREACHABLE.has(code)) return `cannot reach the database at ${where} (${code})`;
  if (code === '28P01' || code === '28000')
    return `the database at ${where} refused the login (${code}); check the user and password in HALLPASS_DATABASE_URL`;
  if (code === '3D000')
    return `the database named in HALLPASS_DATABASE_URL does not exist (${where})`;
  if (code === '42P01')
    return `the database at ${where} lacks Hallpass tables (${message}); start the bot once on it to create or migrate them`;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return `database error on ${where}: ${message} [${code}]`;
  return undefined;
}

/** A PostgreSQL URL as logs and messages may show it: host and database, never the password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres:${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres';
  }
}
