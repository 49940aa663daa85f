import type { Logger } from '../log';
import { copyRows, type CopyReport } from './copy';
import type { Store } from './port';
import type { PostgresStore } from './postgres/store';
import { SqliteStore, type VerifyOptions } from './sqlite/store';

/**
 * The PostgreSQL store and its driver, loaded when a URL selects it: the embedded SQLite default
 * does not pay for them at start-up.
 */
function postgresStore(): typeof PostgresStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return (require('./postgres/store') as typeof import('./postgres/store')).PostgresStore;
}

export type * from './port';
export type * from './rows';
export type { CopyReport } from './copy';
export { backupSqlite, type BackupReport } from './sqlite/backup';
export {
  DECISIONS,
  END_REASONS,
  GRANT_STATUSES,
  OUTBOX_STATUSES,
  PERSON_STATES,
  REQUEST_KINDS,
  REQUEST_STATUSES,
} from './rows';

export interface StoreLocation {
  /** `postgres://…`: PostgreSQL, for several replicas. Without it, the SQLite file. */
  databaseUrl?: string;
  /** PostgreSQL: connections this process opens at most (one of them for changes). */
  databasePool?: number;
  /** PostgreSQL: this process's changes that may wait their turn before more are refused. */
  databaseQueue?: number;
  /** The SQLite file (the embedded default). */
  file: string;
}

export interface OpenOptions {
  logger?: Logger;
  /** The CLI's read commands: open what exists and migrate nothing (SQLite: write nothing). */
  readonly?: boolean;
  busyTimeoutMs?: number;
  /** The bot checkpoints SQLite's WAL on a thread of its own. */
  backgroundCheckpoints?: boolean;
  verify?: VerifyOptions;
}

/**
 * Copies a SQLite deployment into an empty PostgreSQL database (migrated first), row for row
 * with the audit chain identical, and checks the chain on both sides before resolving.
 */
export async function copyToPostgres(
  file: string,
  databaseUrl: string,
  onProgress?: (table: string, rows: number) => void,
): Promise<CopyReport> {
  const source = new SqliteStore(file, { readonly: true });
  try {
    const target = await postgresStore().open(databaseUrl);
    try {
      return await copyRows(
        { store: source, bulk: source.bulk() },
        { store: target, bulk: target.bulk() },
        onProgress,
      );
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Opens (and migrates) the store the environment names. The only place that picks a database. */
export async function openStore(where: StoreLocation, options: OpenOptions = {}): Promise<Store> {
  if (where.databaseUrl) {
    return postgresStore().open(where.databaseUrl, {
      logger: options.logger,
      readonly: options.readonly,
      maxConnections: where.databasePool,
      maxQueuedChanges: where.databaseQueue,
    });
  }
  return new SqliteStore(where.file, {
    readonly: options.readonly,
    busyTimeoutMs: options.busyTimeoutMs,
    verify: options.verify,
    backgroundCheckpoints:
      options.backgroundCheckpoints && options.logger ? { logger: options.logger } : undefined,
  });
}
