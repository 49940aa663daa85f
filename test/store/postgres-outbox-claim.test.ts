import { Client } from 'pg';
import { PostgresStore } from '../../src/store/postgres/store';
import { freshPostgresDatabase } from '../support/stores';

const AT = Date.UTC(2026, 11, 3, 12);

/**
 * Notes, for every outbox row an UPDATE changes, whether bitmap scans were on for its statement:
 * the claim's plan is the server's to choose, so the test looks at what the claim ran with.
 */
const NOTE_SETTING = `
  CREATE TABLE claim_settings (n serial PRIMARY KEY, status text, bitmap text);
  CREATE FUNCTION note_claim_setting() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO claim_settings (status, bitmap)
      VALUES (NEW.status, current_setting('enable_bitmapscan'));
    RETURN NEW;
  END $$;
  CREATE TRIGGER note_claim_setting BEFORE UPDATE ON outbox
    FOR EACH ROW EXECUTE FUNCTION note_claim_setting()`;
const UNDO = `
  DROP TRIGGER note_claim_setting ON outbox;
  DROP FUNCTION note_claim_setting();
  DROP TABLE claim_settings`;

describe('an outbox claim on PostgreSQL', () => {
  let database: { url: string; release(): Promise<void> };
  let store: PostgresStore;
  let observer: Client;

  beforeEach(async () => {
    database = await freshPostgresDatabase();
    store = await PostgresStore.open(database.url, { maxConnections: 2 });
    observer = new Client({ connectionString: database.url });
    await observer.connect();
    await observer.query(NOTE_SETTING);
  });
  afterEach(async () => {
    await store.close();
    // The database goes to the next test of the file, schema and all.
    await observer.query(UNDO);
    await observer.end();
    await database.release();
  });

  it('runs with bitmap scans off, and the statements after it on the same connection do not', async () => {
    await store.outbox.enqueue(
      ['a', 'b'].map((subject) => ({
        key: `dm:${subject}`,
        subject,
        topic: 'requester_dm',
        payload: '{}',
      })),
      AT,
    );
    const claimed = await store.outbox.claimHeads(AT, 60_000, 8);
    expect(claimed.map((row) => row.subject)).toEqual(['a', 'b']);
    // One connection does every read and write outside a change: the pool's other one is the
    // change connection. What the claim set must have ended with it.
    await store.outbox.markSent(
      claimed.map((row) => ({
        row,
        leasedUntil: row.nextAttemptAt,
        restingPayload: row.payload,
        coveredUpTo: row.id,
      })),
      AT,
    );
    const { rows } = await observer.query('SELECT status, bitmap FROM claim_settings ORDER BY n');
    expect(rows).toEqual([
      { status: 'pending', bitmap: 'off' },
      { status: 'pending', bitmap: 'off' },
      { status: 'sent', bitmap: 'on' },
      { status: 'sent', bitmap: 'on' },
    ]);
  });
});
