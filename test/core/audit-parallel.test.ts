import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { appendAudit, hashEvent, verifyChain, type VerifyOptions } from '../../src/core/audit';
import { splitRanges, verifyInParallel } from '../../src/core/audit-parallel';
import { GENESIS_HASH, type ChainAnchor } from '../../src/core/audit-walk';
import { inTransaction, openDb, type Db } from '../../src/store/db';
import { tempDir } from '../support/tmp';

const ROWS = 1_200;
/** Twelve ranges of 100 rows over two workers. */
const PARALLEL: VerifyOptions = { workers: 2, parallelFromRows: 0, rangeRows: 100 };
const IN_ORDER: VerifyOptions = { workers: 1 };
const GENESIS = { seq: 0, hash: GENESIS_HASH };

/** The workers' own answer: undefined would mean they gave up and the walk went in order. */
function byWorkers(db: Db, start: ChainAnchor = GENESIS, onVerified = (_rows: number) => {}) {
  const head = db.$client.prepare('SELECT max(seq) FROM audit_events').pluck().get() as number;
  return verifyInParallel(
    { file: db.$client.name, start, head, workers: 2, rangeRows: 100 },
    onVerified,
  );
}

/** Builds a valid chain fast: hashes computed here, rows inserted with one prepared statement. */
function fillChain(db: Db, count: number): void {
  const insert = db.$client.prepare(
    'INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  inTransaction(db, () => {
    let prevHash = GENESIS_HASH;
    for (let seq = 1; seq <= count; seq++) {
      const row = {
        seq,
        at: 1_000 + seq,
        actor: `U${seq % 7}`,
        action: 'grant.revoked',
        requestId: `req_${seq}`,
        grantId: seq % 3 ? `gr_${seq}` : null,
        details: JSON.stringify({ n: seq, note: 'a "quoted"\nline' }),
      };
      const hash = hashEvent(prevHash, row);
      insert.run(...Object.values(row), prevHash, hash);
      prevHash = hash;
    }
  });
}

describe('verifying the chain with worker threads', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Db;
  let pristine: unknown[][];
  beforeAll(() => {
    tmp = tempDir();
    db = openDb(join(tmp.dir, 'chain.db'));
    fillChain(db, ROWS);
    db.$client.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete');
    pristine = db.$client
      .prepare('SELECT * FROM audit_events ORDER BY seq')
      .raw()
      .all() as unknown[][];
  });
  afterAll(() => {
    db.$client.close();
    tmp.cleanup();
  });

  function restore(): void {
    const insert = db.$client.prepare(
      'INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    inTransaction(db, () => {
      db.$client.exec('DELETE FROM audit_events');
      for (const row of pristine) insert.run(...row);
    });
  }

  /**
   * Commits `tamper` (the workers read committed rows, as they would from a tampered file),
   * checks that both walks report `expected`, then puts the table back as it was.
   */
  function expectBoth(tamper: () => void, expected: ReturnType<typeof verifyChain>): void {
    try {
      inTransaction(db, tamper);
      expect(verifyChain(db, undefined, undefined, IN_ORDER)).toEqual(expected);
      expect(byWorkers(db)).toEqual(expected);
      expect(verifyChain(db, undefined, undefined, PARALLEL)).toEqual(expected);
    } finally {
      restore();
    }
  }

  const edit = (seq: number, column: string, value: string) =>
    db.$client.prepare(`UPDATE audit_events SET ${column} = ? WHERE seq = ?`).run(value, seq);

  it('agrees that an untouched chain is intact, and reports progress as ranges join', () => {
    const verified: number[] = [];
    expect(byWorkers(db, GENESIS, (rows) => verified.push(rows))).toEqual({
      checked: ROWS,
      intact: true,
    });
    expect(verified.at(-1)).toBe(ROWS);
    expect(verified).toEqual([...verified].sort((a, b) => a - b));
    expect(verifyChain(db, undefined, undefined, PARALLEL)).toEqual({
      checked: ROWS,
      intact: true,
    });
  });

  // Ranges are (0,100], (100,200], …: one row in each, the first, a middle or the last one.
  const positions = Array.from({ length: ROWS / 100 }, (_, r) => r * 100 + [1, 50, 100][r % 3]!);

  it.each(positions)('names an edited row %i as a walk in order does', (seq) => {
    expectBoth(() => edit(seq, 'details', '{"forged":true}'), {
      checked: seq - 1,
      intact: false,
      firstBroken: { seq, problem: 'content does not match its hash (the row was edited)' },
    });
  });

  it.each(positions.filter((seq) => seq < ROWS))(
    'names row %i whose hash was replaced, though its successor still links to the old one',
    (seq) => {
      expectBoth(() => edit(seq, 'hash', 'f'.repeat(64)), {
        checked: seq - 1,
        intact: false,
        firstBroken: { seq, problem: 'content does not match its hash (the row was edited)' },
      });
    },
  );

  it.each(positions.filter((seq) => seq < ROWS))('names the row after a deleted row %i', (seq) => {
    expectBoth(() => db.$client.prepare('DELETE FROM audit_events WHERE seq = ?').run(seq), {
      checked: seq - 1,
      intact: false,
      firstBroken: {
        seq: seq + 1,
        problem: `expected seq ${seq}: rows ${seq}..${seq} are missing`,
      },
    });
  });

  it('names a whole range that was deleted at the first row after it', () => {
    expectBoth(
      () => db.$client.prepare('DELETE FROM audit_events WHERE seq > 300 AND seq <= 500').run(),
      {
        checked: 300,
        intact: false,
        firstBroken: { seq: 501, problem: 'expected seq 301: rows 301..500 are missing' },
      },
    );
  });

  it('names a prev_hash that does not link, at the first row of a range and inside one', () => {
    for (const seq of [401, 433]) {
      expectBoth(() => edit(seq, 'prev_hash', 'e'.repeat(64)), {
        checked: seq - 1,
        intact: false,
        firstBroken: { seq, problem: 'prev_hash does not match the previous row' },
      });
    }
  });

  it('names the first of several broken rows, wherever the workers find them', () => {
    expectBoth(
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

  it('reports a forged far-away seq as missing rows, without stepping through the gap', () => {
    const last = db.$client
      .prepare('SELECT hash FROM audit_events WHERE seq = ?')
      .pluck()
      .get(ROWS) as string;
    expectBoth(
      () =>
        db.$client
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

  it('starts after an anchor', () => {
    const anchor = db.$client
      .prepare('SELECT seq, hash FROM audit_events WHERE seq = 550')
      .get() as { seq: number; hash: string };
    expect(byWorkers(db, anchor)).toEqual({ checked: 650, intact: true });
    expect(verifyChain(db, undefined, anchor, PARALLEL)).toEqual({ checked: 650, intact: true });
    const wrong = { seq: 550, hash: 'b'.repeat(64) };
    const broken = {
      checked: 0,
      intact: false,
      firstBroken: { seq: 551, problem: 'prev_hash does not match the previous row' },
    };
    expect(byWorkers(db, wrong)).toEqual(broken);
    expect(verifyChain(db, undefined, wrong, PARALLEL)).toEqual(broken);
  });

  it('sees rows appended in the transaction it runs in, which the workers cannot', () => {
    db.$client.exec('BEGIN IMMEDIATE');
    try {
      for (let i = 0; i < 30; i++)
        appendAudit(db, 5_000 + i, { actor: 'UNEW', action: 'grant.created', details: { i } });
      expect(byWorkers(db)).toBeUndefined();
      expect(verifyChain(db, undefined, undefined, PARALLEL)).toEqual({
        checked: ROWS + 30,
        intact: true,
      });
    } finally {
      db.$client.exec('ROLLBACK');
    }
  });

  it('walks in order when the workers cannot open the file', () => {
    const moved = openDb(join(tmp.dir, 'moved.db'));
    try {
      fillChain(moved, 300);
      rmSync(moved.$client.name);
      expect(byWorkers(moved)).toBeUndefined();
      expect(verifyChain(moved, undefined, undefined, PARALLEL)).toEqual({
        checked: 300,
        intact: true,
      });
    } finally {
      moved.$client.close();
    }
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
  it('is reported at the same rows whether workers walk or not', () => {
    const tmp = tempDir();
    const db = openDb(join(tmp.dir, 'long.db'));
    try {
      fillChain(db, 200_050);
      const seen = (options: VerifyOptions) => {
        const calls: number[] = [];
        const report = verifyChain(db, (n) => calls.push(n), undefined, options);
        return { report, calls };
      };
      const expected = {
        report: { checked: 200_050, intact: true },
        calls: [100_000, 200_000],
      };
      expect(seen(IN_ORDER)).toEqual(expected);
      expect(seen({ workers: 2, parallelFromRows: 0 })).toEqual(expected);
    } finally {
      db.$client.close();
      tmp.cleanup();
    }
  });
});
