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

type Runner = Database.Transaction<(fn: () => unknown) => unknown>;
const runners = new WeakMap<Database.Database, Runner>();

/**
 * Runs `fn` in a `BEGIN IMMEDIATE` transaction so a second process cannot interleave a write
 * (inside another transaction it becomes a savepoint). One runner per connection is reused:
 * better-sqlite3's transaction() builds four wrapper functions per call, about 4 µs each time.
 */
export function inTransaction<T>(db: Db, fn: () => T): T {
  let runner = runners.get(db.$client);
  if (!runner) {
    runner = db.$client.transaction((work: () => unknown) => work());
    runners.set(db.$client, runner);
  }
  return runner.immediate(fn) as T;
}
