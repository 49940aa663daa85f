import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENESIS_HASH, type ChainAnchor } from '../../src/chain/walk';
import { chainEvent, type AuditRow } from '../../src/core/audit';
import { openStore, type ChainResult, type Store, type StoreLocation } from '../../src/store';
import { splitRanges, verifyInParallel } from '../../src/store/sqlite/verify-parallel';
import { tempDir } from '../support/tmp';

const ROWS = 1_200;
const GENESIS = { seq: 0, hash: GENESIS_HASH };
/** Twelve ranges of 100 rows over two workers. */
const PARALLEL = { workers: 2, parallelFromRows: 0, rangeRows: 100 };
const IN_ORDER = { workers: 1 };

/** `count` valid rows after `head`, built the way the core chains them. */
function chainAfter(head: ChainAnchor | undefined, count: number): AuditRow[] {
  const rows: AuditRow[] = [];
  for (let i = 0; i < count; i++) {
    const seq = (head?.seq ?? 0) + 1;
    const row = chainEvent(head, 1_000 + seq, {
      actor: `U${seq % 7}`,
      action: 'grant.revoked',
      requestId: `req_${seq}`,
      grantId: seq % 3 ? `gr_${seq}` : null,
      details: { n: seq, note: 'a "quoted"\nline' },
    });
    rows.push(row);
    head = row;
  }
  return rows;
}

/** Appends `count` rows through the store, a change per 10,000. */
async function fillChain(store: Store, count: number): Promise<void> {
  for (let done = 0; done < count; done += 10_000) {
    await store.change(async (tx) =>
      tx.audit.append(chainAfter(await tx.audit.head(), Math.min(10_000, count - done))),
    );
  }
}

describe('verifying the SQLite chain with worker threads', () => {
  let tmp: ReturnType<typeof tempDir>;
  let where: StoreLocation;
  let inOrder: Store;
  let parallel: Store;
  /** A plain connection, to tamper with the file behind the stores' backs. */
  let db: Database.Database;
  let pristine: unknown[][];

  beforeAll(async () => {
    tmp = tempDir();
    where = { file: join(tmp.dir, 'chain.db') };
    inOrder = await openStore(where, { verify: IN_ORDER });
    parallel = await openStore(where, { verify: PARALLEL });
    await fillChain(inOrder, ROWS);
    db = new Database(where.file);
    db.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete');
    pristine = db.prepare('SELECT * FROM audit_events ORDER BY seq').raw().all() as unknown[][];
  });
  afterAll(async () => {
    db.close();
    await inOrder.close();
    await parallel.close();
    tmp.cleanup();
  });

  /** The workers' own answer: undefined would mean they gave up and the walk went in order. */
  function byWorkers(start: ChainAnchor = GENESIS, onVerified = (_rows: number) => {}) {
    const head = db.prepare('SELECT max(seq) FROM audit_events').pluck().get() as number;
    return verifyInParallel(
      { file: where.file, start, head, workers: 2, rangeRows: 100 },
      onVerified,
    );
  }

  const insert = () =>
    db.prepare(
      'INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );

  function restore(): void {
    const statement = insert();
    db.transaction(() => {
      db.exec('DELETE FROM audit_events');
      for (const row of pristine) statement.run(...row);
    })();
  }

  /**
   * Commits `tamper` (the workers read committed rows, as they would from a tampered file),
   * checks that every walk reports `expected`, then puts the table back as it was.
   */
  async function expectAll(tamper: () => void, expected: ChainResult): Promise<void> {
    try {
      db.transaction(tamper)();
      expect(await inOrder.verifyChain(GENESIS)).toEqual(expected);
      expect(byWorkers()).toEqual(expected);
      expect(await parallel.verifyChain(GENESIS)).toEqual(expected);
    } finally {
      restore();
    }
  }

  const edit = (seq: number, column: string, value: string) =>
    db.prepare(`UPDATE audit_events SET ${column} = ? WHERE seq = ?`).run(value, seq);

  it('agrees that an untouched chain is intact, and reports progress as ranges join', async () => {
    const verified: number[] = [];
    expect(byWorkers(GENESIS, (rows) => verified.push(rows))).toEqual({
      checked: ROWS,
      intact: true,
    });
    expect(verified.at(-1)).toBe(ROWS);
    expect(verified).toEqual([...verified].sort((a, b) => a - b));
    const head = { seq: ROWS, hash: pristine.at(-1)![8] };
    expect(await parallel.verifyChain(GENESIS)).toEqual({ checked: ROWS, intact: true, head });
    expect(await inOrder.verifyChain(GENESIS)).toEqual({ checked: ROWS, intact: true, head });
  });

  // Ranges are (0,100], (100,200], …: one row in each, the first, a middle or the last one.
  const positions = Array.from({ length: ROWS / 100 }, (_, r) => r * 100 + [1, 50, 100][r % 3]!);

  it.each(positions)('names an edited row %i as a walk in order does', async (seq) => {
    await expectAll(() => edit(seq, 'details', '{"forged":true}'), {
      checked: seq - 1,
      intact: false,
      firstBroken: { seq, problem: 'content does not match its hash (the row was edited)' },
    });
  });

  it.each(positions.filter((seq) => seq < ROWS))(
    'names row %i whose hash was replaced, though its successor still links to the old one',
    async (seq) => {
      await expectAll(() => edit(seq, 'hash', 'f'.repeat(64)), {
        checked: seq - 1,
        intact: false,
        firstBroken: { seq, problem: 'content does not match its hash (the row was edited)' },
      });
    },
  );

  it.each(positions.filter((seq) => seq < ROWS))(
    'names the row after a deleted row %i',
    async (seq) => {
      await expectAll(() => db.prepare('DELETE FROM audit_events WHERE seq = ?').run(seq), {
        checked: seq - 1,
        intact: false,
        firstBroken: {
          seq: seq + 1,
          problem: `expected seq ${seq}: rows ${seq}..${seq} are missing`,
        },
      });
    },
  );

  it('names a whole range that was deleted at the first row after it', async () => {
    await expectAll(
      () => db.prepare('DELETE FROM audit_events WHERE seq > 300 AND seq <= 500').run(),
      {
        checked: 300,
        intact: false,
        firstBroken: { seq: 501, problem: 'expected seq 301: rows 301..500 are missing' },
      },
    );
  });

  it('names a prev_hash that does not link, at the first row of a range and inside one', async () => {
    for (const seq of [401, 433]) {
      await expectAll(() => edit(seq, 'prev_hash', 'e'.repeat(64)), {
        checked: seq - 1,
        intact: false,
        firstBroken: { seq, problem: 'prev_hash does not match the previous row' },
      });
    }
  });

  it('names the first of several broken rows, wherever the workers find them', async () => {
    await expectAll(
      () => {
        edit(1_150, 'details', '{}');
        edit(777, 'actor', 'UEVIL');
        edit(120, 'action', 'grant.created');
      },
      {
        checked: 119,
        intact: false,
        firstBroken: { seq: 120, problem: 'content does not match its hash (the row was edited)' },
      },
    );
  });

  it('reports a forged far-away seq as missing rows, without stepping through the gap', async () => {
    const last = pristine.at(-1)![8] as string;
    await expectAll(
      () =>
        db
          .prepare(
            "INSERT INTO audit_events (seq, at, actor, action, details, prev_hash, hash) VALUES (?, 1, 'U', 'grant.revoked', '{}', ?, ?)",
          )
          .run(2 ** 40, last, 'a'.repeat(64)),
      {
        checked: ROWS,
        intact: false,
        firstBroken: {
          seq: 2 ** 40,
          problem: `expected seq ${ROWS + 1}: rows ${ROWS + 1}..${2 ** 40 - 1} are missing`,
        },
      },
    );
  });

  it('starts after an anchor', async () => {
    const anchor = db.prepare('SELECT seq, hash FROM audit_events WHERE seq = 550').get() as {
      seq: number;
      hash: string;
    };
    const head = { seq: ROWS, hash: pristine.at(-1)![8] };
    expect(byWorkers(anchor)).toEqual({ checked: 650, intact: true });
    expect(await parallel.verifyChain(anchor)).toEqual({ checked: 650, intact: true, head });
    const wrong = { seq: 550, hash: 'b'.repeat(64) };
    const broken = {
      checked: 0,
      intact: false,
      firstBroken: { seq: 551, problem: 'prev_hash does not match the previous row' },
    };
    expect(byWorkers(wrong)).toEqual(broken);
    expect(await parallel.verifyChain(wrong)).toEqual(broken);
    expect(await inOrder.verifyChain(wrong)).toEqual(broken);
  });

  it('walks what is committed while another connection is appending, and workers that cannot see a row give up', async () => {
    const statement = insert();
    const head = { seq: ROWS, hash: pristine.at(-1)![8] as string };
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const row of chainAfter(head, 30)) {
        statement.run(
          row.seq,
          row.at,
          row.actor,
          row.action,
          row.requestId,
          row.grantId,
          row.details,
          row.prevHash,
          row.hash,
        );
      }
      // This connection sees 30 more rows than the workers can.
      expect(byWorkers()).toBeUndefined();
      expect(await parallel.verifyChain(GENESIS)).toEqual({ checked: ROWS, intact: true, head });
      expect(await inOrder.verifyChain(GENESIS)).toEqual({ checked: ROWS, intact: true, head });
    } finally {
      db.exec('ROLLBACK');
    }
  });

  it('gives up, rather than report, when the workers cannot open the file', () => {
    const plan = {
      file: join(tmp.dir, 'missing.db'),
      start: GENESIS,
      head: ROWS,
      workers: 2,
      rangeRows: 100,
    };
    expect(verifyInParallel(plan, () => undefined)).toBeUndefined();
  });
});

describe('splitting a chain into ranges', () => {
  it('covers every seq once, in order', () => {
    for (const [start, head, rows, workers] of [
      [0, 1_000_000, 50_000, 2],
      [550, 1_200, 100, 2],
      [0, 7, 100, 4],
      [10, 11, 1, 2],
    ] as const) {
      const ranges = splitRanges(start, head, rows, workers);
      expect(ranges[0]![0]).toBe(start);
      expect(ranges.at(-1)![1]).toBe(head);
      ranges.slice(1).forEach(([after], i) => expect(after).toBe(ranges[i]![1]));
      ranges.forEach(([after, upTo]) => expect(upTo).toBeGreaterThan(after));
    }
  });

  it('gives each worker several ranges, and never more than a bounded number', () => {
    expect(splitRanges(0, 1_000, 50_000, 2)).toHaveLength(8);
    expect(splitRanges(0, 1_000_000, 50_000, 2)).toHaveLength(20);
    expect(splitRanges(0, 2 ** 40, 50_000, 2).length).toBeLessThanOrEqual(4096);
  });
});

describe('progress of a long walk', () => {
  it('is reported at the same rows whether workers walk or not', async () => {
    const tmp = tempDir();
    const where = { file: join(tmp.dir, 'long.db') };
    const stores = [
      await openStore(where, { verify: IN_ORDER }),
      await openStore(where, { verify: { workers: 2, parallelFromRows: 0 } }),
    ];
    try {
      await fillChain(stores[0]!, 200_050);
      const head = await stores[0]!.audit.head();
      const seen = [];
      for (const store of stores) {
        const calls: number[] = [];
        const report = await store.verifyChain(GENESIS, (n) => calls.push(n));
        seen.push({ report, calls });
      }
      const expected = {
        report: { checked: 200_050, intact: true, head },
        calls: [100_000, 200_000],
      };
      expect(seen).toEqual([expected, expected]);
    } finally {
      for (const store of stores) await store.close();
      tmp.cleanup();
    }
  });
});
