import { openStore, type Store } from '../../src/store';
import { isStoreBusy } from '../../src/store/errors';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';

/**
 * A change's first round trip (its BEGIN) also waits for the change lock, once another replica
 * held it when the change began. When that wait fails (the store's 30 s statement_timeout on a
 * lock held by a hung replica, a cancel), the transaction it opened must be rolled back: the
 * change pool has one connection, and left aborted it would fail every later change of this
 * replica with 25P02 ("current transaction is aborted").
 */
describe('a PostgreSQL change whose wait for the change lock fails', () => {
  let h: CoreHarness;
  let other: Store | undefined;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, 'postgres')));
  afterEach(async () => {
    await other?.close();
    other = undefined;
    await h.close();
  });

  const file = (core = h.core) =>
    core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-42 slow queries',
    });

  it('is busy for that change only: the replica records the next change normally', async () => {
    // Another replica holds the change lock (a long change, or a hung one).
    other = await openStore(h.location);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    // Reading the chain's head sends the change's first round trip, which takes the lock.
    const holder = other!.change(async (_tx, chain) => {
      await chain();
      holding();
      await held;
    });
    await isHolding;

    // This replica's change waits for the lock; the wait is cut short, exactly as the store's
    // 30 s statement_timeout cuts it (SQLSTATE 57014 either way).
    const waiting = file();
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      pid = await h.sql.value<number | undefined>(
        `SELECT pid FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE 'BEGIN;%pg_advisory_xact_lock%'`,
      );
      if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    expect(pid).toBeDefined();
    await h.sql.value('SELECT pg_cancel_backend(?)', pid);
    const failure = await waiting.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isStoreBusy(failure)).toBe(true); // "busy, try again": nothing was written

    release();
    await holder;

    // The lock is free again: the next changes of this replica go through.
    await file();
    const request = await file();
    expect(request.status).toBe('pending');
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(2);
  });
});
