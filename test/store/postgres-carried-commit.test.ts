import pg from 'pg';
import type { Queries, Store } from '../../src/store';
import { watchChangeTrips, type ChangeTrips } from '../support/change-trips';
import { freshStore, type TestStore } from '../support/stores';
import { requestRow } from './rows';

/** A promise and the function that settles it, to hold a change at a chosen point. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** What one change does here: a read (its first round trip), then a write held for COMMIT. */
const fileRequest = (id: string) => async (tx: Queries) => {
  await tx.meta.get('carried');
  await tx.requests.insert(requestRow(id));
};

/**
 * While another change of the process waits, a change's COMMIT (with the writes held for it)
 * goes in that change's first round trip. Each change must still be answered only once its own
 * COMMIT is, with what the server did with it, whatever the change after it does.
 */
describe('a PostgreSQL change whose COMMIT goes in the next change’s first round trip', () => {
  let t: TestStore;
  let store: Store;
  /** The text of every round trip on the connection that takes the change lock. */
  let trips: string[];
  let watched: ChangeTrips;

  beforeAll(() => {
    watched = watchChangeTrips();
  });
  afterAll(() => watched.restore());
  beforeEach(async () => {
    t = await freshStore('postgres');
    store = t.store;
    watched.clear();
    trips = watched.sent;
  });
  afterEach(() => t.close());

  const committed = async (id: string) =>
    Number(await t.sql.value('SELECT count(*) FROM requests WHERE id = ?', id)) === 1;

  /** Starts a change that holds its turn until the gate opens, so the next ones queue behind. */
  const holdTurn = () => {
    const held = gate();
    const change = store.change(async (tx) => {
      await tx.meta.get('holding');
      await held.opened;
    });
    return { change, release: held.open };
  };

  it('answers each queued change once its rows are committed, a round trip less for each', async () => {
    const first = holdTurn();
    const seen: Record<string, boolean> = {};
    const changes = ['r_a', 'r_b', 'r_c'].map((id) =>
      store.change(fileRequest(id)).then(async () => {
        seen[id] = await committed(id);
      }),
    );
    first.release();
    await first.change;
    await Promise.all(changes);

    expect(seen).toEqual({ r_a: true, r_b: true, r_c: true });
    // Each change's first round trip carries the COMMIT of the change before (the holder's too:
    // the others queued before its first round trip went); the last change's COMMIT goes alone,
    // as nobody waits behind it. Five round trips where eight went before.
    expect(trips).toHaveLength(5);
    expect(trips[0]).not.toContain('COMMIT');
    expect(trips[1]).toMatch(/^COMMIT;\nBEGIN;\n/);
    expect(trips[2]).toMatch(/^INSERT INTO requests .*'r_a'.*;\nCOMMIT;\nBEGIN;\n/);
    expect(trips[3]).toMatch(/^INSERT INTO requests .*'r_b'.*;\nCOMMIT;\nBEGIN;\n/);
    expect(trips[4]).toMatch(/^INSERT INTO requests .*'r_c'.*;\nCOMMIT$/);
  });

  it('fails only the change whose carried write is refused; the change after starts again and commits', async () => {
    await store.change(fileRequest('r_taken'));
    const first = holdTurn();
    const refused = store.change(async (tx) => {
      await tx.meta.get('carried');
      await tx.requests.insert(requestRow('r_mine'));
      await tx.requests.insert(requestRow('r_taken'));
    });
    const after = store.change(fileRequest('r_after'));
    first.release();

    await expect(refused).rejects.toMatchObject({ code: '23505' });
    await expect(after).resolves.toBeUndefined();
    expect(await committed('r_mine')).toBe(false);
    expect(await committed('r_after')).toBe(true);
    expect(trips.some((trip) => /'r_taken'[\s\S]*COMMIT;\nBEGIN;/.test(trip))).toBe(true);
  });

  it('keeps a carried COMMIT that went through when the next change’s own statement fails', async () => {
    await store.change(fileRequest('r_taken'));
    const first = holdTurn();
    const carried = store.change(fileRequest('r_carried'));
    const failing = store.change(async (tx) => {
      await tx.requests.insert(requestRow('r_taken'));
      await tx.meta.get('carried');
    });
    first.release();

    await expect(carried).resolves.toBeUndefined();
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(await committed('r_carried')).toBe(true);
    expect(
      trips.some((trip) => /'r_carried'[\s\S]*COMMIT;\nBEGIN;[\s\S]*'r_taken'/.test(trip)),
    ).toBe(true);
    // The connection goes on.
    await store.change(fileRequest('r_next'));
    expect(await committed('r_next')).toBe(true);
  });

  it('sends the carried COMMIT alone when the next change fails before any round trip', async () => {
    const first = holdTurn();
    const carried = store.change(fileRequest('r_carried'));
    const failing = store.change(async () => {
      throw new Error('refused before any statement');
    });
    first.release();

    await expect(carried).resolves.toBeUndefined();
    await expect(failing).rejects.toThrow('refused before any statement');
    expect(await committed('r_carried')).toBe(true);
    expect(trips.some((trip) => /'r_carried'[\s\S]*COMMIT$/.test(trip))).toBe(true);
  });

  it('does not keep a COMMIT waiting for a next change that awaits something else first', async () => {
    const first = holdTurn();
    const carried = store.change(fileRequest('r_carried'));
    const elsewhere = gate();
    const slow = store.change(async (tx) => {
      await elsewhere.opened;
      await tx.requests.insert(requestRow('r_slow'));
    });
    first.release();

    await expect(carried).resolves.toBeUndefined();
    expect(await committed('r_carried')).toBe(true);
    elsewhere.open();
    await expect(slow).resolves.toBeUndefined();
    expect(await committed('r_slow')).toBe(true);
  });

  it('fails both changes when the connection is lost in the round trip they share', async () => {
    // Another transaction holds the request id the carried write will insert, so that round
    // trip waits in the server until its backend is terminated.
    const blocker = new pg.Client({ connectionString: t.location.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status,
           approvals_required, auto_approved, created_at, pending_until)
         VALUES ('r_carried', 'access', 'UOTHER', 'prod-db', 1, 'blocks', 'pending', 1, false, 0, 0)`,
      );
      const first = holdTurn();
      const carried = store.change(fileRequest('r_carried'));
      const next = store.change(fileRequest('r_next'));
      first.release();

      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        pid = await t.sql.value<number | undefined>(
          `SELECT pid FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%''r_carried''%COMMIT;%BEGIN;%'`,
        );
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      expect(pid).toBeDefined();
      await t.sql.value('SELECT pg_terminate_backend(?)', pid);

      await expect(carried).rejects.toThrow();
      await expect(next).rejects.toThrow();
      await blocker.query('ROLLBACK');
      expect(await committed('r_carried')).toBe(false);
      expect(await committed('r_next')).toBe(false);
      // A new connection serves the next change.
      await store.change(fileRequest('r_later'));
      expect(await committed('r_later')).toBe(true);
    } finally {
      await blocker.end();
    }
  });

  it('answers a carried COMMIT while another replica takes the lock before the next change', async () => {
    const other = await t.another();
    const first = holdTurn();
    const carried = store.change(fileRequest('r_carried'));
    const next = store.change(fileRequest('r_next'));
    await new Promise((r) => setTimeout(r, 50));
    // The other replica's change finds the lock taken and waits for it.
    const holding = gate();
    const otherDone = gate();
    const theirs = other.change(async (tx, chain) => {
      await chain();
      holding.open();
      await otherDone.opened;
      await tx.requests.insert(requestRow('r_theirs'));
    });
    let waiting = 0;
    for (let i = 0; i < 200 && waiting === 0; i++) {
      waiting = Number(
        await t.sql.value(
          `SELECT count(*) FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'`,
        ),
      );
      if (waiting === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(waiting).toBe(1);
    // Held with the holder's COMMIT: once that is answered the lock is the other replica's, and
    // the change that carried the COMMIT waits for it.
    first.release();
    await holding.opened;
    await expect(first.change).resolves.toBeUndefined();
    let carriedDone = false;
    void carried.then(() => (carriedDone = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(carriedDone).toBe(false);

    otherDone.open();
    await Promise.all([theirs, carried, next]);
    for (const id of ['r_carried', 'r_next', 'r_theirs']) expect(await committed(id)).toBe(true);
  });
});
