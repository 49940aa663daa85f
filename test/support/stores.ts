import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { getTableName } from 'drizzle-orm';
import pg from 'pg';
import * as pgTables from '../../src/store/schema/postgres';
import { openStore, type Store } from '../../src/store';
import { postgresInspector, sqliteInspector, type SqlInspector } from './sql-inspector';
import { tempDir } from './tmp';

export type StoreKind = 'sqlite' | 'postgres';

/** Both stores, for `describe.each`: suites of the core, audit, delivery and sweeper run on each. */
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/** Set by test/support/global-setup.ts: the run's throwaway PostgreSQL cluster. */
export const PG_ADMIN_URL_ENV = 'HALLPASS_TEST_PG_ADMIN_URL';
/** A database migrated once per run; each test's database is a copy of it. */
export const PG_TEMPLATE = 'hallpass_template';

export interface TestStore {
  kind: StoreKind;
  store: Store;
  /** Where the store lives: `{ file }` for SQLite, `{ databaseUrl }` for PostgreSQL. */
  location: { file: string; databaseUrl?: string };
  /** Plain SQL on a connection of its own. */
  sql: SqlInspector;
  /** Another store on the same database, as another process (or replica) would open it. */
  another(): Promise<Store>;
  close(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env[PG_ADMIN_URL_ENV];
  if (!url) {
    throw new Error(
      `${PG_ADMIN_URL_ENV} is not set: the PostgreSQL store suites run under jest's globalSetup (npm test)`,
    );
  }
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Every table of the schema: one added later is emptied too. */
const TABLES = Object.values(pgTables).map((table) => getTableName(table));

/**
 * Databases of this test file not in use right now. Copying the template costs a few hundred
 * milliseconds; emptying a database a test is done with costs a few.
 */
const idle: string[] = [];

/** Empties every table, the append-only one included (as the superuser, triggers off). */
async function empty(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(adminUrl(), name) });
  await client.connect();
  try {
    await client.query(
      `SET session_replication_role = replica; TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`,
    );
  } finally {
    await client.end();
  }
}

/** An empty, migrated PostgreSQL database for one test; `release` hands it to the next. */
export async function freshPostgresDatabase(): Promise<{ url: string; release(): Promise<void> }> {
  let name = idle.pop();
  if (name) await empty(name);
  else {
    name = `t_${randomBytes(6).toString('hex')}`;
    const created = name;
    await admin((c) => c.query(`CREATE DATABASE ${created} TEMPLATE ${PG_TEMPLATE}`));
  }
  const taken = name;
  return {
    url: withDatabase(adminUrl(), taken),
    release: async () => {
      idle.push(taken);
    },
  };
}

/** A fresh, migrated store of `kind` for one test, and what a test needs to look inside it. */
export async function freshStore(kind: StoreKind): Promise<TestStore> {
  const opened: Store[] = [];
  if (kind === 'sqlite') {
    const tmp = tempDir();
    const location = { file: join(tmp.dir, 'hallpass.db') };
    const open = async () => {
      const store = await openStore(location);
      opened.push(store);
      return store;
    };
    const store = await open();
    const sql = sqliteInspector(location.file);
    return {
      kind,
      store,
      location,
      sql,
      another: open,
      async close() {
        await sql.close();
        for (const s of opened) await s.close().catch(() => undefined);
        tmp.cleanup();
      },
    };
  }
  const database = await freshPostgresDatabase();
  const location = { file: '', databaseUrl: database.url };
  const open = async () => {
    const store = await openStore(location);
    opened.push(store);
    return store;
  };
  const store = await open();
  const sql = await postgresInspector(database.url);
  return {
    kind,
    store,
    location,
    sql,
    another: open,
    async close() {
      await sql.close();
      for (const s of opened) await s.close().catch(() => undefined);
      await database.release();
    },
  };
}
