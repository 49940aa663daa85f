import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/store';
import { tempDir } from '../support/tmp';
import { requestRow } from './rows';

/**
 * Changes that start in the same turn of the event loop share one commit (GroupCommit), each in
 * a savepoint of its own. What the callers can tell: nothing is visible, or reported done,
 * before the shared commit, and a change that fails is undone alone.
 */
describe('SQLite changes sharing a commit', () => {
  const tmp = tempDir();
  let store: SqliteStore;
  let reader: Database.Database;
  afterAll(() => tmp.cleanup());
  beforeEach(() => {
    store = new SqliteStore(join(tmp.dir, `${expect.getState().currentTestName}.db`));
    reader = new Database(store.file, { readonly: true });
  });
  afterEach(async () => {
    reader.close();
    await store.close();
  });

  /** Requests committed, as another connection (another process) sees them. */
  const committed = () =>
    (reader.prepare('SELECT id FROM requests ORDER BY id').pluck().all() as string[]).join(',');

  const insert = (id: string) =>
    store.change(async (tx) => {
      await tx.requests.insert(requestRow(id));
      return id;
    });

  it('commits changes started together at once, and reports none before', async () => {
    const seenByOthers: string[] = [];
    const changes = ['a', 'b', 'c', 'd'].map((id) =>
      store.change(async (tx) => {
        seenByOthers.push(committed());
        await tx.requests.insert(requestRow(id));
        return id;
      }),
    );
    const resolved: string[] = [];
    for (const c of changes) void c.then(() => resolved.push(committed()));
    expect(await Promise.all(changes)).toEqual(['a', 'b', 'c', 'd']);
    // Had each committed alone, the later ones would have seen the earlier rows.
    expect(seenByOthers).toEqual(['', '', '', '']);
    expect(resolved).toEqual(['a,b,c,d', 'a,b,c,d', 'a,b,c,d', 'a,b,c,d']);
  });

  it('undoes a change that fails alone, and commits the others', async () => {
    const results = await Promise.allSettled([
      insert('a'),
      store.change(async (tx) => {
        await tx.requests.insert(requestRow('b'));
        throw new Error('refused after writing');
      }),
      // The same key twice: SQLite refuses the second insert, which undoes that change only.
      insert('a'),
      insert('c'),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(
      new Error('refused after writing'),
    );
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint/);
    expect(committed()).toBe('a,c');
  });

  it('goes on with the next changes when the first one fails', async () => {
    const results = await Promise.allSettled([
      store.change(async (tx) => {
        await tx.requests.insert(requestRow('a'));
        throw new Error('first refused');
      }),
      insert('b'),
      insert('c'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(committed()).toBe('b,c');
  });

  it('lets the event loop take a turn between changes that share a commit', async () => {
    const order: string[] = [];
    const changes = ['a', 'b', 'c'].map((id) =>
      store.change(async (tx) => {
        order.push(id);
        await tx.requests.insert(requestRow(id));
      }),
    );
    // What arrived on a socket meanwhile (a Slack click waiting for its ack) runs in such a turn.
    setImmediate(() => order.push('turn'));
    await Promise.all(changes);
    expect(order).toEqual(['a', 'turn', 'b', 'c']);
    expect(committed()).toBe('a,b,c');
  });

  it('commits every change of a long queue, a bounded number at a time', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const sizes: number[] = [];
    const changes = ids.map((id) =>
      insert(id).then((done) => {
        sizes.push(committed().split(',').length);
        return done;
      }),
    );
    expect(await Promise.all(changes)).toEqual(ids);
    expect(committed()).toBe(ids.join(','));
    // What the callers see when told: commits of 16 changes (the cap), then the rest.
    expect([...new Set(sizes)]).toEqual([16, 32, 48, 50]);
  });

  it("bounds each change's wait for another program's write lock from when it was asked for", async () => {
    const patient = new SqliteStore(join(tmp.dir, 'locked.db'), { busyTimeoutMs: 300 });
    const other = new Database(patient.file);
    try {
      other.prepare('BEGIN IMMEDIATE').run();
      // Held for 2.5 timeouts: counted from when each began to wait, the third would get it.
      const released = new Promise((resolve) => setTimeout(resolve, 750)).then(() =>
        other.prepare('COMMIT').run(),
      );
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map((id) => patient.change((tx) => tx.requests.insert(requestRow(id)))),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      for (const r of results) {
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
      }
      await released;
      await patient.change((tx) => tx.requests.insert(requestRow('d')));
      const own = new Database(patient.file, { readonly: true });
      expect(own.prepare('SELECT id FROM requests').pluck().all()).toEqual(['d']);
      own.close();
    } finally {
      other.close();
      await patient.close();
    }
  });

  it('starts over for a change that comes after the queue ran dry', async () => {
    await insert('a');
    const later = insert('b').then(() => insert('c'));
    await expect(later).resolves.toBe('c');
    expect(committed()).toBe('a,b,c');
  });
});
