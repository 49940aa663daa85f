import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');

export interface OpenOptions {
  readonly?: boolean;
  busyTimeoutMs?: number;
}

/** Opens the SQLite file (creating its folder), sets WAL, a busy timeout and foreign keys, and migrates. */
export function openDb(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly && file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const client = new Database(file, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  client.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  if (!options.readonly) {
    client.pragma('journal_mode = WAL');
    client.pragma('synchronous = NORMAL');
    // Sealed credentials are cleared once delivered; do not leave the old bytes in free pages.
    client.pragma('secure_delete = ON');
  }
  client.pragma('foreign_keys = ON');
  const db = drizzle(client, { schema });
  if (!options.readonly) migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

/** Runs `fn` in a `BEGIN IMMEDIATE` transaction so a second process cannot interleave a write. */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn).immediate();
}
