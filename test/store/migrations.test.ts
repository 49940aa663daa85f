import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store';
import { sqliteInspector } from '../support/sql-inspector';
import { PG_ADMIN_URL_ENV } from '../support/stores';
import { tempDir } from '../support/tmp';

const MIGRATIONS = join(__dirname, '..', '..', 'migrations');
/** How many migrations a dialect's journal lists: a migrated database has applied them all. */
const migrationsOf = (dialect: 'sqlite' | 'postgres') =>
  (
    JSON.parse(readFileSync(join(MIGRATIONS, dialect, 'meta', '_journal.json'), 'utf8')) as {
      entries: unknown[];
    }
  ).entries.length;

const TABLES = [
  'approvals',
  'audit_events',
  'digests',
  'grants',
  'outbox',
  'requests',
  'slack_messages',
];

describe('opening a SQLite store', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('migrates an empty file in a folder that does not exist yet, and a second open applies nothing', async () => {
    const file = join(tmp.dir, 'nested', 'dir', 'hallpass.db');
    const first = await openStore({ file });
    const sql = sqliteInspector(file);
    try {
      const tables = await sql.all<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name",
      );
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(TABLES));
      const applied = () => sql.value<number>('SELECT count(*) FROM __drizzle_migrations');
      expect(await applied()).toBe(migrationsOf('sqlite'));
      expect(await sql.value('PRAGMA journal_mode')).toBe('wal');
      await first.close();
      const second = await openStore({ file });
      expect(await applied()).toBe(migrationsOf('sqlite'));
      await second.close();
    } finally {
      await sql.close();
    }
  });

  it('opens read-only for the CLI’s reads: an existing file only, and no change', async () => {
    const file = join(tmp.dir, 'read.db');
    // Not toThrow: a SqliteError may come from another realm than this file's Error.
    await expect(openStore({ file }, { readonly: true })).rejects.toMatchObject({
      code: 'SQLITE_CANTOPEN',
    });
    await (await openStore({ file })).close();
    const store = await openStore({ file }, { readonly: true });
    try {
      expect(await store.requests.byId('req_none')).toBeUndefined();
      // (SqliteStore throws this synchronously; an async caller sees a rejection either way.)
      await expect((async () => store.change(async () => undefined))()).rejects.toThrow(
        'open read-only',
      );
    } finally {
      await store.close();
    }
  });
});

describe('opening a PostgreSQL store', () => {
  const admin = () => {
    const url = process.env[PG_ADMIN_URL_ENV];
    if (!url) throw new Error(`${PG_ADMIN_URL_ENV} is not set (jest's globalSetup sets it)`);
    return url;
  };
  const urlOf = (database: string) => {
    const url = new URL(admin());
    url.pathname = `/${database}`;
    return url.toString();
  };
  async function asAdmin<T>(database: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: urlOf(database) });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  it('migrates an empty database once when replicas start together, and a later open applies nothing', async () => {
    const database = `t_migrate_${process.pid}`;
    await asAdmin('postgres', (c) => c.query(`CREATE DATABASE ${database}`));
    const opened: Store[] = [];
    try {
      const url = urlOf(database);
      opened.push(
        ...(await Promise.all([1, 2, 3].map(() => openStore({ file: '', databaseUrl: url })))),
      );
      const applied = () =>
        asAdmin(database, async (c) =>
          Number(
            (await c.query('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')).rows[0].n,
          ),
        );
      expect(await applied()).toBe(migrationsOf('postgres'));
      const tables = await asAdmin(database, async (c) =>
        (
          await c.query<{ table_name: string }>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
          )
        ).rows.map((r) => r.table_name),
      );
      expect(tables).toEqual(expect.arrayContaining(TABLES));
      opened.push(await openStore({ file: '', databaseUrl: url }));
      expect(await applied()).toBe(migrationsOf('postgres'));
      await Promise.all(opened.map((s) => s.ping()));
    } finally {
      for (const store of opened) await store.close();
      await asAdmin('postgres', (c) => c.query(`DROP DATABASE ${database}`));
    }
  });
});
