import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as sqliteMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres';
import { migrate as pgMigrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { openStore, type Store } from '../../src/store';
import { PG_ADMIN_URL_ENV, type StoreKind } from './stores';
import { tempDir } from './tmp';

/**
 * A database as an older Hallpass left it, for testing what a migration does to its rows: migrated
 * up to the one before the migration under test, then written with bare SQL.
 */
export interface OldDatabase {
  /** Runs one statement with `?` placeholders. */
  run(sql: string, params: unknown[]): Promise<void>;
  /** Writes an audit event as the older Hallpass would have (its hashes are not checked here). */
  event(e: OldEvent): Promise<void>;
  /** The store this Hallpass opens on it, which applies the migrations the older one lacked. */
  open(): Promise<Store>;
  close(): Promise<void>;
}

export interface OldEvent {
  at: number;
  action: string;
  requestId: string;
  grantId?: string;
  details?: object;
}

const MIGRATIONS = join(__dirname, '..', '..', 'migrations');

/** A copy of a dialect's migrations that stops before `tag`'s, as an older Hallpass shipped them. */
function migrationsBefore(dialect: StoreKind, tag: string, dir: string): string {
  const folder = join(dir, `${dialect}-before`);
  cpSync(join(MIGRATIONS, dialect), folder, { recursive: true });
  const journal = join(folder, 'meta', '_journal.json');
  const parsed = JSON.parse(readFileSync(journal, 'utf8')) as { entries: { tag: string }[] };
  const at = parsed.entries.findIndex((e) => e.tag === tag);
  if (at < 0) throw new Error(`no migration ${tag} in ${dialect}`);
  writeFileSync(journal, JSON.stringify({ ...parsed, entries: parsed.entries.slice(0, at) }));
  return folder;
}

/** A database of `kind` migrated to just before `tag` (both dialects name a migration alike). */
export async function oldDatabase(kind: StoreKind, tag: string, dir: string): Promise<OldDatabase> {
  const old = kind === 'sqlite' ? await oldSqlite(tag, dir) : await oldPostgres(tag, dir);
  let seq = 0;
  return {
    ...old,
    event: (e) => {
      seq += 1;
      return old.run(
        `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash)
         VALUES (?, ?, 'hallpass', ?, ?, ?, ?, ?, ?)`,
        [
          seq,
          e.at,
          e.action,
          e.requestId,
          e.grantId ?? null,
          JSON.stringify(e.details ?? {}),
          '0'.repeat(64),
          String(seq).padStart(64, '0'),
        ],
      );
    },
  };
}

async function oldSqlite(tag: string, dir: string): Promise<Omit<OldDatabase, 'event'>> {
  const file = join(dir, 'old.db');
  const raw = new Database(file);
  sqliteMigrate(sqliteDrizzle(raw), { migrationsFolder: migrationsBefore('sqlite', tag, dir) });
  return {
    run: async (sql, params) => void raw.prepare(sql).run(...params),
    open: async () => {
      raw.close();
      return openStore({ file });
    },
    close: async () => {
      if (raw.open) raw.close();
    },
  };
}

async function oldPostgres(tag: string, dir: string): Promise<Omit<OldDatabase, 'event'>> {
  const admin = process.env[PG_ADMIN_URL_ENV];
  if (!admin) throw new Error(`${PG_ADMIN_URL_ENV} is not set (jest's globalSetup sets it)`);
  const name = `t_before_${tag.slice(0, 4)}_${process.pid}`;
  const url = new URL(admin);
  const onAdmin = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await onAdmin(`CREATE DATABASE ${name}`);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  await pgMigrate(pgDrizzle(client), {
    migrationsFolder: migrationsBefore('postgres', tag, dir),
  });
  return {
    run: async (sql, params) => {
      let n = 0;
      await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
    },
    open: () => openStore({ file: '', databaseUrl: url.toString() }),
    close: async () => {
      await client.end().catch(() => undefined);
      await onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * For the enclosing `describe`: a database of `kind` as a Hallpass before migration `tag` left it
 * (`writePast` writes its rows), opened by this one before the tests and closed after them.
 * Returns the store the tests read.
 */
export function upgradedStore(
  kind: StoreKind,
  tag: string,
  writePast: (db: OldDatabase) => Promise<void>,
): () => Store {
  const tmp = tempDir();
  let old: OldDatabase | undefined;
  let store: Store | undefined;
  beforeAll(async () => {
    old = await oldDatabase(kind, tag, tmp.dir);
    await writePast(old);
    store = await old.open();
  });
  afterAll(async () => {
    await store?.close();
    await old?.close();
    tmp.cleanup();
  });
  return () => {
    if (!store) throw new Error('the upgraded store opens in beforeAll');
    return store;
  };
}
