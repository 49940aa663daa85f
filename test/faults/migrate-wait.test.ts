import pg from 'pg';
import { openStore, type Store } from '../../src/store';
import { LOCKS } from '../../src/store/postgres/locks';
import { freshPostgresDatabase } from '../support/stores';

/**
 * Replicas started together each migrate under one advisory lock: the others wait their turn
 * however long the first takes (an index built over a large audit log), not the pool's 30 s
 * statement_timeout. Here another session holds the lock for 35 s.
 */
describe('a PostgreSQL replica starting while another one migrates', () => {
  jest.setTimeout(90_000);

  it('waits for the migration in progress, however long it takes, then opens', async () => {
    const database = await freshPostgresDatabase();
    const migrating = new pg.Client({ connectionString: database.url });
    await migrating.connect();
    let store: Store | undefined;
    try {
      // Another replica holds the migration lock for 35 s (a long migration).
      await migrating.query('SELECT pg_advisory_lock($1, $2)', [...LOCKS.migrate]);
      const release = setTimeout(
        () => void migrating.query('SELECT pg_advisory_unlock($1, $2)', [...LOCKS.migrate]),
        35_000,
      );
      const opening = openStore({ file: '', databaseUrl: database.url });
      const outcome = await opening.then(
        (s) => ((store = s), 'opened'),
        (err: Error) => `failed: ${err.message}`,
      );
      clearTimeout(release);
      expect(outcome).toBe('opened');
    } finally {
      await store?.close();
      await migrating.end();
      await database.release();
    }
  });
});
