import { Client } from 'pg';
import { PostgresStore, SNAPSHOT_ON_ONE_BACKEND } from '../../src/store/postgres/store';
import { freshPostgresDatabase } from '../support/stores';

/**
 * The digest's snapshot is background work: it runs without parallel workers. What the server
 * ran is read back from pg_stat_statements (loaded by the tests' cluster), this database's only.
 */
describe('a PostgreSQL snapshot', () => {
  let database: { url: string; release(): Promise<void> };
  let admin: Client;
  let store: PostgresStore;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    admin = new Client({ connectionString: database.url });
    await admin.connect();
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    store = await PostgresStore.open(database.url);
  });
  afterAll(async () => {
    await store?.close();
    await admin?.end();
    await database?.release();
  });

  /** How many times this database ran `text` (a utility statement is recorded as written). */
  const ran = async (text: string) => {
    const { rows } = await admin.query<{ calls: string }>(
      `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query = $1`,
      [text],
    );
    return Number(rows[0]!.calls);
  };

  it('turns parallel workers off for its own transaction only', async () => {
    const before = await ran(SNAPSHOT_ON_ONE_BACKEND);
    const filed = await store.snapshot((q) =>
      q.reports.requestsFiled({ start: 0, end: Date.now() }),
    );
    expect(filed).toBe(0);
    expect(await ran(SNAPSHOT_ON_ONE_BACKEND)).toBe(before + 1);
    await store.requests.byId('req_none');
    await store.change(async (tx) => tx.requests.byId('req_none'));
    expect(await ran(SNAPSHOT_ON_ONE_BACKEND)).toBe(before + 1);
  });
});
