import { logger } from '../../src/log';
import { Client } from 'pg';
import { HallpassMetrics } from '../../src/metrics';
import { describeStoreError, isStoreBusy } from '../../src/store/errors';
import { NamedPool } from '../../src/store/postgres/pool';
import { PostgresStore, type PostgresOptions } from '../../src/store/postgres/store';
import { parsePrometheusText, sampleValue, type Family } from '../support/prometheus-text';
import { slowProxy } from '../support/slow-proxy';
import { freshPostgresDatabase } from '../support/stores';
import { requestRow } from './rows';

/** A promise and the function that settles it: a change held open until the test lets it go. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with how long `work` took, failing the test if it threw. */
async function timed(work: Promise<unknown>): Promise<number> {
  const started = Date.now();
  await work;
  return Date.now() - started;
}

describe('the PostgreSQL store under a burst of changes', () => {
  let database: { url: string; release(): Promise<void> };
  const opened: PostgresStore[] = [];
  const open = async (options: PostgresOptions) => {
    const store = await PostgresStore.open(database.url, options);
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    database = await freshPostgresDatabase();
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await database.release();
  });

  it('runs 50 concurrent changes on a pool of 3 to the end, one at a time, in the order they came', async () => {
    // Each change holds the lock 40 ms: the last waits 2 s, twice as long as a connection may
    // be waited for. Only waiting in the process, rather than on a pooled connection, lets all finish.
    const store = await open({ maxConnections: 3, acquireTimeoutMs: 1_000 });
    const entered: number[] = [];
    let inside = 0;
    let most = 0;
    const changes = Array.from({ length: 50 }, (_, i) =>
      store.change(async (tx) => {
        entered.push(i);
        most = Math.max(most, ++inside);
        await tx.requests.insert(requestRow(`req_${i}`));
        await pause(40);
        inside--;
      }),
    );
    await pause(200);
    const counts = store.poolCounts();
    expect(counts.change.total).toBe(1);
    expect(counts.change.queued).toBeGreaterThan(40);
    // None of the changes took (or waits for) a read connection.
    expect(counts.read).toMatchObject({ idle: counts.read.total, waiting: 0 });
    await Promise.all(changes);
    expect(most).toBe(1);
    expect(entered).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const filed = await store.requests.pendingOf('UREQ');
    expect(filed).toHaveLength(50);
  });

  it('answers reads, snapshots and outbox transactions at once while changes queue', async () => {
    const store = await open({ maxConnections: 3, acquireTimeoutMs: 1_000 });
    const held = gate();
    const first = store.change(async (tx) => {
      await tx.requests.insert(requestRow('req_first'));
      await held.opened;
    });
    const queued = Array.from({ length: 20 }, (_, i) =>
      store.change((tx) => tx.requests.insert(requestRow(`req_q${i}`))),
    );
    await pause(100);
    expect(store.poolCounts().change.queued).toBe(20);
    const reads = Promise.all([
      store.requests.byId('req_first'),
      store.ping(),
      store.snapshot((tx) => tx.requests.pendingOf('UREQ')),
      store.outbox.enqueue([{ key: 'k1', subject: 's', topic: 't', payload: '{}' }], 1),
      store.outbox.counts(),
      ...Array.from({ length: 10 }, () => store.grants.nextMoments()),
    ]);
    expect(await timed(reads)).toBeLessThan(1_000);
    // The held change is not committed yet: reads see none of it.
    expect(await store.requests.byId('req_first')).toBeUndefined();
    expect(await store.outbox.counts()).toEqual({ pending: 1, dead: 0 });
    held.open();
    await Promise.all([first, ...queued]);
    expect(await store.requests.pendingOf('UREQ')).toHaveLength(21);
  });

  it('still serialises changes across processes on the advisory lock, and the waiting side still reads', async () => {
    const one = await open({ maxConnections: 2, acquireTimeoutMs: 1_000 });
    const two = await open({ maxConnections: 2, acquireTimeoutMs: 1_000 });
    const held = gate();
    const order: string[] = [];
    const first = one.change(async (tx) => {
      await tx.requests.insert(requestRow('req_one'));
      // Its first round trip takes the lock: a change that has only written has sent nothing.
      expect(await tx.requests.byId('req_one')).toBeDefined();
      await held.opened;
      order.push('one');
    });
    await pause(100);
    let secondDone = false;
    let tries = 0;
    const second = two
      .change(async (tx) => {
        tries++;
        await tx.requests.insert(requestRow('req_two'));
        // Its first try finds the lock taken and is rolled back, its insert with it; the next
        // waits for the lock, and then the other process's change is committed and seen.
        expect(await tx.requests.byId('req_one')).toBeDefined();
        order.push('two');
      })
      .then(() => (secondDone = true));
    await pause(300);
    expect(secondDone).toBe(false);
    expect(await timed(Promise.all([two.ping(), two.requests.byId('req_one')]))).toBeLessThan(
      1_000,
    );
    held.open();
    await Promise.all([first, second]);
    expect(order).toEqual(['one', 'two']);
    expect(tries).toBe(2);
    expect(await one.requests.byId('req_two')).toBeDefined();
  });

  it('names the pool that ran dry when no connection comes free in time', async () => {
    const store = await open({ maxConnections: 2, acquireTimeoutMs: 300 });
    const held = gate();
    // The one read connection is taken by a snapshot that does not end.
    const snapshot = store.snapshot(() => held.opened);
    await pause(50);
    await expect(store.requests.byId('req_none')).rejects.toThrow(
      /no connection of the PostgreSQL read pool came free within 0\.3 s \(all 1 in use.*HALLPASS_DATABASE_POOL/,
    );
    // Changes have their own connection: they go on.
    await store.change((tx) => tx.requests.insert(requestRow('req_during')));
    held.open();
    await snapshot;
    expect(await store.requests.byId('req_during')).toBeDefined();
  });

  it('refuses a change at once when its queue is full, changing nothing, and takes changes again as it drains', async () => {
    const store = await open({ maxConnections: 3, maxQueuedChanges: 3 });
    const held = gate();
    const first = store.change(async (tx) => {
      await tx.requests.insert(requestRow('req_first'));
      await held.opened;
    });
    const queued = Array.from({ length: 3 }, (_, i) =>
      store.change((tx) => tx.requests.insert(requestRow(`req_q${i}`))),
    );
    let ran = false;
    const refused = await store
      .change(async (tx) => {
        ran = true;
        await tx.requests.insert(requestRow('req_refused'));
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(ran).toBe(false);
    expect(isStoreBusy(refused)).toBe(true);
    expect(store.changeQueue()).toEqual({ waiting: 3, refused: 1 });
    expect(describeStoreError(refused, 'postgres:db')).toBe(
      '3 changes of this process are already waiting for the database, so this one was refused before it began (postgres:db); the database is falling behind: try again in a moment, and if it lasts, look for slow statements or raise HALLPASS_DATABASE_QUEUE',
    );

    held.open();
    await Promise.all([first, ...queued]);
    await store.change((tx) => tx.requests.insert(requestRow('req_after')));
    const filed = (await store.requests.pendingOf('UREQ')).map((r) => r.id).sort();
    expect(filed).toEqual(['req_after', 'req_first', 'req_q0', 'req_q1', 'req_q2']);
  });

  it('shows the changes waiting and refused on /metrics, the counter catching up on each scrape', async () => {
    const store = await open({ maxConnections: 3, maxQueuedChanges: 2 });
    const metrics = new HallpassMetrics({
      gauges: (now) => store.gauges.read(now),
      requestOf: (id) => store.requests.byId(id),
      leading: () => true,
      now: () => Date.now(),
      logger,
      changeQueue: () => store.changeQueue(),
    });
    const scrape = async () => parsePrometheusText((await metrics.exposition()).body);
    const value = (m: Map<string, Family>, name: string) => sampleValue(m, name);
    const held = gate();
    const first = store.change(async (tx) => {
      await tx.requests.insert(requestRow('req_first'));
      await held.opened;
    });
    const queued = [0, 1].map((i) => store.change((tx) => tx.requests.insert(requestRow(`q${i}`))));
    const refuse = () => store.change(async () => undefined).catch((err: unknown) => err);
    await refuse();
    let m = await scrape();
    expect(value(m, 'hallpass_database_changes_waiting')).toBe(2);
    expect(value(m, 'hallpass_database_changes_refused_total')).toBe(1);
    await refuse();
    await refuse();
    m = await scrape();
    expect(value(m, 'hallpass_database_changes_refused_total')).toBe(3);
    held.open();
    await Promise.all([first, ...queued]);
    m = await scrape();
    expect(value(m, 'hallpass_database_changes_waiting')).toBe(0);
    expect(value(m, 'hallpass_database_changes_refused_total')).toBe(3);
  });

  it('refuses fewer than 2 connections: one is kept for changes', async () => {
    await expect(PostgresStore.open(database.url, { maxConnections: 1 })).rejects.toThrow(
      'a PostgreSQL store needs at least 2 connections (one for changes, one for reads), not 1',
    );
  });
});

describe('a PostgreSQL pool whose server ends a connection', () => {
  it('survives the end arriving with the answer that hands the connection to a waiter', async () => {
    // A busy process reads the answer to a statement and the server's "terminating connection"
    // (a restart, a failover) in one go. Finishing the statement hands the connection straight to
    // the next waiter, before the waiter's code runs: the end must find a listener even then.
    const database = await freshPostgresDatabase();
    const url = new URL(database.url);
    const proxy = await slowProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    const pool = new NamedPool(
      'read',
      1,
      { connectionString: url.href, connectionTimeoutMillis: 5_000 },
      '',
    );
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await pool.query<{ pid: number }>({
        text: 'SELECT pg_backend_pid() AS pid',
      });
      proxy.hold();
      const answered = pool.query({ text: 'SELECT 1 AS one' });
      const waiter = pool.connect();
      await until(() => proxy.heldBytes().length > 0);
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await until(() => proxy.heldBytes().includes('57P01'));
      proxy.flush();
      await expect(answered).resolves.toMatchObject({ rows: [{ one: 1 }] });
      // The waiter is handed a live connection, not the one the server just cut.
      const client = await waiter;
      await expect(client.query('SELECT 2 AS two')).resolves.toMatchObject({ rows: [{ two: 2 }] });
      pool.release(client);
      expect(pool.counts.total).toBe(1);
    } finally {
      await admin.end();
      await pool.end();
      await proxy.close();
      await database.release();
    }
  });

  it('fails a statement on a connection cut between statements as the database out of reach', async () => {
    // A change holds its connection across statements; one cut meanwhile fails the next
    // statement with pg's "not queryable", and nothing was committed: "busy, try again".
    const database = await freshPostgresDatabase();
    const pool = new NamedPool(
      'change',
      1,
      { connectionString: database.url, connectionTimeoutMillis: 5_000 },
      '',
    );
    const admin = new Client({ connectionString: database.url });
    await admin.connect();
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const cut = new Promise((resolve) => client.once('error', resolve));
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await cut;
      const failed = await client.query('SELECT 1').then(
        () => undefined,
        (err: Error) => err,
      );
      pool.release(client, failed);
      expect({ message: failed?.message, busy: isStoreBusy(failed) }).toEqual({
        message: expect.stringMatching(/not queryable/),
        busy: true,
      });
      await expect(pool.query({ text: 'SELECT 3 AS three' })).resolves.toMatchObject({
        rows: [{ three: 3 }],
      });
    } finally {
      await admin.end();
      await pool.end();
      await database.release();
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await pause(10);
  }
}
