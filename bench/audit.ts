import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { canonicalJson } from '../src/chain/canonical-json';
import { GENESIS_HASH } from '../src/chain/walk';
import { parseConfig } from '../src/config/load';
import { systemClock } from '../src/core/clock';
import { change, type CoreContext } from '../src/core/context';
import { StaticDirectory } from '../src/core/directory';
import { Policy } from '../src/core/policy';
import { PAGE_ROWS, SELECT_EVENTS_PAGE } from '../src/store/sqlite/chain-pages';
import type { Store } from '../src/store';
import { SqliteStore, type VerifyOptions } from '../src/store/sqlite/store';
import { splitRanges } from '../src/store/sqlite/verify-parallel';
import { perSecond, sideBySide, timed, timedAsync } from './measure';
import { fmt, type Row } from './report';
import { inTransaction, seedAudit, tempDb } from './seed';
import { BENCH_CONFIG } from './sweeper';
import { tsWorker } from './ts-worker';

const DETAILS = {
  resourceId: 'prod-db',
  durationMs: 3_600_000,
  justification: 'investigating a production incident',
};

/** A table like audit_events, same columns and indexes, without the append-only triggers. */
function createFloorTable(raw: Database.Database): void {
  const ddl = raw
    .prepare(
      "SELECT sql FROM sqlite_master WHERE tbl_name = 'audit_events' AND type IN ('table', 'index') AND sql IS NOT NULL",
    )
    .pluck()
    .all() as string[];
  for (const statement of ddl) raw.exec(statement.replace(/\baudit_(\w+)/g, 'floor_$1'));
}

/**
 * Where appends are measured: the store Hallpass writes through, and the floor on the same
 * database, which stores `events` rows made beforehand, `perTransaction` to a transaction, into
 * a table with the same columns and indexes as audit_events (nothing chained) and says how many
 * milliseconds that took.
 */
export interface AppendSide {
  bench: string;
  store: Store;
  floorMs(events: number, perTransaction: number): number | Promise<number>;
  cleanup(): Promise<void>;
}

/** The floor's rows: JSON and hashes made beforehand, as a row the chain would have made. */
export const FLOOR_DETAILS = canonicalJson(DETAILS);
export const FLOOR_HASH = 'f'.repeat(64);

/** The embedded store: a SQLite file, and a bare connection of the bench's own for the floor. */
async function sqliteAppend(): Promise<AppendSide> {
  const { store, raw, cleanup } = tempDb();
  try {
    createFloorTable(raw);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const insert = raw.prepare(
    'INSERT INTO floor_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let floorSeq = 0;
  const floor = (events: number, perTransaction: number) => {
    for (let done = 0; done < events; done += perTransaction)
      inTransaction(raw, () => {
        for (let i = done; i < done + perTransaction; i++)
          insert.run(
            ++floorSeq,
            i,
            'UBENCH',
            'request.created',
            `req_${i}`,
            null,
            FLOOR_DETAILS,
            FLOOR_HASH,
            FLOOR_HASH,
          );
      });
  };
  return {
    bench: 'audit',
    store,
    floorMs: (events, perTransaction) => timed(() => floor(events, perTransaction)),
    cleanup,
  };
}

/**
 * Appending with the chain against storing the same rows without it (see AppendSide), in the
 * same transactions, on `open`'s database (by default a SQLite file).
 */
export async function appendRows(
  events: number,
  perTransaction: number,
  rounds: number,
  open: () => AppendSide | Promise<AppendSide> = sqliteAppend,
): Promise<Row> {
  const side = await open();
  try {
    const config = parseConfig(BENCH_CONFIG, {});
    const ctx: CoreContext = {
      store: side.store,
      clock: systemClock,
      config,
      policy: new Policy(config, new StaticDirectory()),
      resolveTarget: (resource) => resource.target,
      onCommit: new Set(),
    };
    // Each transaction is a change as the core makes them: chain head read under the lock,
    // events hashed as they are recorded, appended before the commit.
    const chain = async () => {
      for (let done = 0; done < events; done += perTransaction)
        await change(ctx, async (c) => {
          for (let i = done; i < done + perTransaction; i++)
            c.audit({
              actor: 'UBENCH',
              action: 'request.created',
              requestId: `req_${i}`,
              details: DETAILS,
            });
        });
    };
    const { value, floor: floorRate } = await sideBySide(
      rounds,
      async () => perSecond(events, await timedAsync(chain)),
      async () => perSecond(events, await side.floorMs(events, perTransaction)),
    );
    const each =
      perTransaction === 1
        ? 'one event per transaction'
        : `${perTransaction} events per transaction`;
    return {
      bench: side.bench,
      figure: `append, ${each}`,
      value: `${fmt(value)} events/s`,
      floor: `${fmt(floorRate)} rows/s (same rows and indexes, no chain)`,
      ratio: `${fmt((value / floorRate) * 100)}%`,
      target: '≥ 20,000 events/s',
      met: value >= 20_000,
    };
  } finally {
    await side.cleanup();
  }
}

/** The floor of a walk in order: the same paged reads on this thread, nothing hashed. */
function readInOrder(raw: Database.Database, head: number): number {
  const select = raw.prepare(SELECT_EVENTS_PAGE).raw();
  let rows = 0;
  for (let from = 0; ;) {
    const page = select.all(from, head, PAGE_ROWS) as [number][];
    rows += page.length;
    if (page.length < PAGE_ROWS) return rows;
    from = page[page.length - 1]![0];
  }
}

/** The floor of the parallel walk: the same threads reading the same ranges, nothing hashed. */
async function readInParallel(file: string, head: number, workers: number): Promise<number> {
  const ranges = splitRanges(0, head, 50_000, workers);
  const next = new Int32Array(new SharedArrayBuffer(4));
  const threads = Array.from({ length: workers }, () =>
    tsWorker(join(__dirname, 'read-worker.ts'), { workerData: { file, ranges, next } }),
  );
  const counts = await Promise.all(
    threads.map(async (t) => (await once(t, 'message'))[0] as number),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function verifyRows(events: number, rounds: number): Promise<Row[]> {
  const { raw, file, cleanup } = tempDb();
  const stores: SqliteStore[] = [];
  try {
    seedAudit(raw, events, Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1));
    const walk = (verify: VerifyOptions) => {
      const store = new SqliteStore(file, { readonly: true, verify });
      stores.push(store);
      return async () => {
        const ms = await timedAsync(async () => {
          const report = await store.verifyChain({ seq: 0, hash: GENESIS_HASH });
          if (!report.intact || report.checked !== events)
            throw new Error('the seeded chain must verify');
        });
        return perSecond(events, ms);
      };
    };
    const inOrder = await sideBySide(rounds, walk({ workers: 1 }), () =>
      perSecond(
        events,
        timed(() => readInOrder(raw, events)),
      ),
    );
    const workers = Math.min(4, availableParallelism());
    const parallel = await sideBySide(rounds, walk({}), async () => {
      let rows = 0;
      const ms = await timedAsync(async () => (rows = await readInParallel(file, events, workers)));
      return perSecond(rows, ms);
    });
    return [
      {
        bench: 'audit',
        figure: `verify ${fmt(events)} events, in order on one thread`,
        value: `${fmt(inOrder.value)} events/s`,
        floor: `${fmt(inOrder.floor)} rows/s (same reads, no hashing)`,
        ratio: `${fmt((inOrder.value / inOrder.floor) * 100)}%`,
        target: '—',
        met: null,
      },
      {
        bench: 'audit',
        figure: `verify ${fmt(events)} events, ${workers} worker threads (the default)`,
        value: `${fmt(parallel.value)} events/s`,
        floor: `${fmt(parallel.floor)} rows/s (same threads and reads, no hashing)`,
        ratio: `${fmt((parallel.value / parallel.floor) * 100)}%`,
        target: '≥ 500,000 events/s',
        met: parallel.value >= 500_000,
      },
    ];
  } finally {
    for (const store of stores) await store.close();
    await cleanup();
  }
}

export async function auditBench(options: {
  appendEvents: number;
  verifyEvents: number;
  rounds: number;
}): Promise<Row[]> {
  return [
    await appendRows(options.appendEvents, 1, options.rounds),
    await appendRows(options.appendEvents, 100, options.rounds),
    ...(await verifyRows(options.verifyEvents, options.rounds)),
  ];
}
