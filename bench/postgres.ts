import Database from 'better-sqlite3';
import pg from 'pg';
import { GENESIS_HASH } from '../src/chain/walk';
import { CHAIN_HEAD_SEQ, CHAIN_PAGE, CHAIN_PAGE_ROWS } from '../src/store/queries/audit';
import { PostgresStore } from '../src/store/postgres/store';
import { PgRunner } from '../src/store/postgres/runner';
import { Sql, type Param } from '../src/store/sql';
import { APP_HOME_SIZES, appHomeBench, type HomeStore } from './app-home';
import { capacityBench } from './capacity';
import {
  DIGEST_CASES,
  digestRow,
  END,
  seededWeek,
  timedDigest,
  WEEK,
  watchRow,
  type DigestSide,
  type WatchSide,
} from './digest';
import {
  BURST_SIZES,
  OUTBOX_SIZES,
  outboxBench,
  outboxBurstBench,
  type OutboxStore,
} from './outbox';
import { appendRows, FLOOR_DETAILS, FLOOR_HASH, type AppendSide } from './audit';
import { LAG_SIZES, lagBench, lagRounds, type LagDb } from './lag';
import { perSecond, sideBySide, timedAsync } from './measure';
import {
  postgresMissing,
  skippedWithoutPostgres,
  startBenchPostgres,
  type BenchPostgres,
} from './pg-cluster';
import { copySeeded, type Seeded } from './pg-seed';
import { fmt, type Row } from './report';
import { watchPass } from './verified-head';
import { seedAudit, seedGrants, tempDb, template } from './seed';
import {
  slackPathBench,
  UNFINISHED,
  type ComposedDb,
  type PathStore,
  type WatchedDb,
} from './slack-path';
import {
  IDLE_PROBES,
  IDLE_SIZES,
  idleRows,
  NOW,
  REVOKE_FLOOR,
  revokeFloorOutbox,
  revokeRow,
  type IdleSide,
  type SweepSide,
} from './sweeper';

/** How each PostgreSQL row is labelled, beside the SQLite row of the same bench. */
const on = (bench: string) => `${bench} (PostgreSQL)`;

/** A database of the bench cluster with the store Hallpass opens on it and a bare client. */
interface Opened {
  store: PostgresStore;
  client: pg.Client;
  url: string;
  close(): Promise<void>;
}

async function open(
  cluster: BenchPostgres,
  template?: string,
  options?: { maxQueuedChanges?: number },
): Promise<Opened> {
  const { name, url } = await cluster.create(template);
  const store = await PostgresStore.open(url, options);
  const client = new pg.Client({ connectionString: url });
  // A cut connection also fails the query in progress, which reports it; unheard, it would crash.
  client.on('error', () => undefined);
  await client.connect();
  return {
    store,
    client,
    url,
    async close() {
      await client.end().catch(() => undefined);
      await store.close().catch(() => undefined);
      await cluster.drop(name);
    },
  };
}

/** Runs `work` on a fresh copy of `template`, dropped after. */
async function onCopy<T>(
  cluster: BenchPostgres,
  template: string,
  work: (db: Opened) => Promise<T>,
): Promise<T> {
  const db = await open(cluster, template);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

/** Runs `sql` by name, so the connection parses and plans it once, as the store's runner does. */
async function named(client: pg.Client, sql: Sql, values: Param[]): Promise<unknown[][]> {
  const result = await client.query<unknown[]>({
    name: sql.name,
    text: sql.pg,
    values,
    rowMode: 'array',
  });
  return result.rows;
}

async function count(client: pg.Client, sql: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(sql);
  return Number(rows[0]!.n);
}

/**
 * A migrated database holding the seeded rows of the SQLite file `file`, vacuumed and analysed
 * as a database in service would be (every page all-visible); nobody is connected to it, so
 * rounds can copy it (TEMPLATE).
 */
async function templateOf(
  cluster: BenchPostgres,
  file: string,
): Promise<{ name: string; drop(): Promise<void> }> {
  const { name, url } = await cluster.create();
  const drop = () => cluster.drop(name);
  try {
    await (await PostgresStore.open(url)).close();
    const raw = new Database(file, { readonly: true });
    try {
      await copySeeded(raw, url);
    } finally {
      raw.close();
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // Two passes, as autovacuum makes over time: the first sets the new rows' hint bits, and
    // only the next marks their pages all-visible (none were after one pass over a fresh copy),
    // without which every index-only scan reads the table too.
    await client
      .query('VACUUM ANALYZE')
      .then(() => client.query('VACUUM'))
      .finally(() => client.end());
  } catch (err) {
    await drop();
    throw err;
  }
  return { name, drop };
}

/** Seeds a scratch SQLite file with `seed` and copies its `tables` into the database at `url`. */
async function seedThroughSqlite(
  url: string,
  seed: (raw: Database.Database) => void,
  tables: readonly Seeded[],
): Promise<void> {
  const scratch = tempDb();
  try {
    seed(scratch.raw);
    await copySeeded(scratch.raw, url, tables);
  } finally {
    await scratch.cleanup();
  }
}

/**
 * Audit append on PostgreSQL; the floor inserts the same rows, one INSERT per transaction (as
 * the store appends up to 100 rows in one), into a table made LIKE audit_events with all its
 * indexes, by name on a bare connection.
 */
function pgAppend(cluster: BenchPostgres): () => Promise<AppendSide> {
  return async () => {
    const db = await open(cluster);
    await db.client.query('CREATE TABLE floor_events (LIKE audit_events INCLUDING ALL)');
    let floorSeq = 0;
    const inserts = new Map<number, Sql>();
    const insertOf = (rows: number) => {
      let sql = inserts.get(rows);
      if (!sql) {
        const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)');
        sql = new Sql(
          `INSERT INTO floor_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES ${values.join(', ')}`,
        );
        inserts.set(rows, sql);
      }
      return sql;
    };
    const floor = async (events: number, perTransaction: number) => {
      const insert = insertOf(perTransaction);
      for (let done = 0; done < events; done += perTransaction) {
        const values: Param[] = [];
        for (let i = done; i < done + perTransaction; i++)
          values.push(
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
        await db.client.query('BEGIN');
        await named(db.client, insert, values);
        await db.client.query('COMMIT');
      }
    };
    return {
      bench: on('audit'),
      store: db.store,
      floorMs: (events, perTransaction) => timedAsync(() => floor(events, perTransaction)),
      cleanup: () => db.close(),
    };
  };
}

/**
 * The rows after `span`'s `after` up to its `last`, read in the same paged reads as a walk of the
 * chain, in the same kind of transaction, nothing hashed; how many there were.
 */
async function readRows(
  client: pg.Client,
  span: (runner: PgRunner) => Promise<{ after: number; last: number }>,
): Promise<number> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const runner = new PgRunner(client as unknown as pg.PoolClient);
    const { after: first, last } = await span(runner);
    let rows = 0;
    for (let after = first; ;) {
      const page = (await runner.arrays(CHAIN_PAGE, [after, last, CHAIN_PAGE_ROWS])) as [number][];
      rows += page.length;
      if (page.length < CHAIN_PAGE_ROWS) return rows;
      after = Number(page[page.length - 1]![0]);
    }
  } finally {
    await client.query('COMMIT');
  }
}

/** The floor of the walk: every row of the chain, nothing hashed. */
function readChain(client: pg.Client): Promise<number> {
  return readRows(client, async (runner) => {
    const [row] = await runner.rows(CHAIN_HEAD_SEQ);
    return { after: 0, last: Number(row?.seq ?? 0) };
  });
}

/** `events` chained audit rows over a month, copied in once for the rows that walk them. */
async function seededChain(
  cluster: BenchPostgres,
  events: number,
): Promise<{ name: string; drop(): Promise<void> }> {
  const file = await template((raw) =>
    seedAudit(raw, events, Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1)),
  );
  return templateOf(cluster, file.file).finally(() => file.cleanup());
}

/** One walk of the whole chain in order on one connection, as `hallpass audit verify` makes it. */
async function walkChain(store: PostgresStore): Promise<{ checked: number; ms: number }> {
  let checked = 0;
  const ms = await timedAsync(async () => {
    const report = await store.verifyChain({ seq: 0, hash: GENESIS_HASH });
    if (!report.intact) throw new Error('the seeded chain must verify');
    checked = report.checked;
  });
  return { checked, ms };
}

/** `hallpass audit verify` on PostgreSQL: one connection walks the chain in order. */
async function verifyRow(
  cluster: BenchPostgres,
  chain: string,
  events: number,
  rounds: number,
): Promise<Row> {
  const db = await open(cluster, chain);
  try {
    const { value, floor } = await sideBySide(
      rounds,
      async () => {
        const { checked, ms } = await walkChain(db.store);
        if (checked !== events) throw new Error('the seeded chain must verify');
        return perSecond(events, ms);
      },
      async () => {
        let rows = 0;
        const ms = await timedAsync(async () => (rows = await readChain(db.client)));
        if (rows !== events) throw new Error('the floor must read every row');
        return perSecond(rows, ms);
      },
    );
    return {
      bench: on('audit'),
      figure: `verify ${fmt(events)} events, in order on one connection`,
      value: `${fmt(value)} events/s`,
      floor: `${fmt(floor)} rows/s (same paged reads, no hashing)`,
      ratio: `${fmt((value / floor) * 100)}%`,
      target: '—',
      met: null,
    };
  } finally {
    await db.close();
  }
}

/** The chain watch on PostgreSQL: each pass, and each walk (its floor), on a fresh copy. */
function pgWatch(cluster: BenchPostgres, chain: string): WatchSide {
  return {
    bench: on('audit'),
    async copy() {
      const db = await open(cluster, chain);
      return { store: db.store, cleanup: () => db.close() };
    },
    walk: () => onCopy(cluster, chain, (db) => walkChain(db.store)),
  };
}

/** The rows that walk a chain: verify, then the chain watch catching up, on one seeded chain. */
async function chainRows(cluster: BenchPostgres, events: number, rounds: number): Promise<Row[]> {
  const chain = await seededChain(cluster, events);
  try {
    return [
      await verifyRow(cluster, chain.name, events, rounds),
      await watchRow(events, rounds, pgWatch(cluster, chain.name)),
    ];
  } finally {
    await chain.drop();
  }
}

/** The first and last rows of the digest week (index probes), for a walk of the week by seq. */
const WEEK_SEQS = new Sql(
  'SELECT min(seq) AS first, max(seq) AS last FROM audit_events WHERE at >= ? AND at < ?',
);

/**
 * The digest week's events read once, nothing computed: what any digest must pay. Between the
 * week's first and last rows (in the dense week every row is in it).
 */
function readWeek(client: pg.Client): Promise<number> {
  return readRows(client, async (runner) => {
    const [span] = await runner.rows(WEEK_SEQS, [WEEK.start, WEEK.end]);
    return { after: Number(span?.first ?? 1) - 1, last: Number(span?.last ?? 0) };
  });
}

/** The digest on PostgreSQL: each build, and each read of the week (its floor), on a fresh copy. */
function pgDigest(cluster: BenchPostgres, seeded: string, events: number): DigestSide {
  return {
    bench: on('digest'),
    digest: () => onCopy(cluster, seeded, (db) => timedDigest(db.store)),
    readWeek: () =>
      onCopy(cluster, seeded, async (db) => {
        let rows = 0;
        const ms = await timedAsync(async () => (rows = await readWeek(db.client)));
        if (rows !== events) throw new Error(`the floor read ${rows} of the week's ${events} rows`);
        return ms;
      }),
  };
}

/**
 * The weekly digest over a week that holds every one of `events` events, on a database the chain
 * watch verified (a copy of the seeded one, the watch's pass run on it) and on the seeded one.
 */
async function digestRows(cluster: BenchPostgres, events: number, rounds: number): Promise<Row[]> {
  const file = await seededWeek(events, 7, false);
  const never = await templateOf(cluster, file.file).finally(() => file.cleanup());
  try {
    const verified = await cluster.create(never.name);
    try {
      const store = await PostgresStore.open(verified.url);
      await watchPass(store, END).finally(() => store.close());
      const rows: Row[] = [];
      for (const c of DIGEST_CASES.filter((c) => c.spanDays === 7)) {
        const seeded = c.verified ? verified.name : never.name;
        rows.push(await digestRow(c, events, rounds, pgDigest(cluster, seeded, events)));
      }
      return rows;
    } finally {
      await cluster.drop(verified.name);
    }
  } finally {
    await never.drop();
  }
}

/** REVOKE_FLOOR on PostgreSQL: the same statements by name on a bare connection, in the same transactions. */
async function revokeFloor(client: pg.Client, dueBatch: number): Promise<number> {
  const s = {
    due: new Sql(REVOKE_FLOOR.due),
    byId: new Sql(REVOKE_FLOOR.byId),
    head: new Sql(REVOKE_FLOOR.head),
    expire: new Sql(REVOKE_FLOOR.expire),
    end: new Sql(REVOKE_FLOOR.end),
    audit: new Sql(REVOKE_FLOOR.audit),
    outbox: new Sql(REVOKE_FLOOR.outbox),
  };
  const hash = REVOKE_FLOOR.hash;
  const appendRow = async (action: string, requestId: string, grantId: string, details: string) => {
    // A bare connection reads bigint as text.
    const [last] = (await named(client, s.head, [])) as [string, string][];
    await named(client, s.audit, [
      Number(last?.[0] ?? 0) + 1,
      NOW,
      action,
      requestId,
      grantId,
      details,
      hash,
      hash,
    ]);
  };
  const inTransaction = async (work: () => Promise<void>) => {
    await client.query('BEGIN');
    await work();
    await client.query('COMMIT');
  };
  let revoked = 0;
  for (;;) {
    const batch = (await named(client, s.due, [NOW, dueBatch])) as string[][];
    if (batch.length === 0) return revoked;
    await inTransaction(async () => {
      for (const [id] of batch) {
        const [row] = (await named(client, s.byId, [id!])) as string[][];
        await named(client, s.expire, [NOW, id!]);
        await appendRow('grant.revoke_requested', row![1]!, id!, REVOKE_FLOOR.requestedDetails);
      }
    });
    await inTransaction(async () => {
      for (const [id] of batch) {
        const [row] = (await named(client, s.byId, [id!])) as string[][];
        const requestId = row![1]!;
        await named(client, s.end, [NOW, id!]);
        await appendRow('grant.revoked', requestId, id!, REVOKE_FLOOR.revokedDetails);
        for (const queued of revokeFloorOutbox(requestId, id!, row![2]!))
          await named(client, s.outbox, [...queued, NOW, NOW]);
        revoked++;
      }
    });
  }
}

/** The sweeper on PostgreSQL: each round on a copy (TEMPLATE) of the same seeded database. */
function pgSweep(cluster: BenchPostgres): (seeded: string) => Promise<SweepSide> {
  return async (seededFile) => {
    const seeded = await templateOf(cluster, seededFile);
    return {
      bench: on('sweeper'),
      async copy() {
        const db = await open(cluster, seeded.name);
        return {
          store: db.store,
          revoked: () =>
            count(db.client, "SELECT count(*) AS n FROM grants WHERE status = 'revoked'"),
          async floor(dueBatch) {
            let revoked = 0;
            const ms = await timedAsync(
              async () => (revoked = await revokeFloor(db.client, dueBatch)),
            );
            return { revoked, ms };
          },
          cleanup: () => db.close(),
        };
      },
      cleanup: () => seeded.drop(),
    };
  };
}

/**
 * Idle passes on PostgreSQL: the grants seeded through a SQLite file and copied in, then vacuumed
 * and analysed as autovacuum would in service; the floor runs IDLE_PROBES by name on a bare
 * connection.
 */
function pgIdle(cluster: BenchPostgres): IdleSide {
  return {
    bench: on('sweeper'),
    async open(seed) {
      const db = await open(cluster);
      try {
        await seedThroughSqlite(db.url, seed, ['requests', 'grants']);
        await db.client.query('VACUUM ANALYZE grants, requests');
      } catch (err) {
        await db.close();
        throw err;
      }
      const probes = IDLE_PROBES.map(({ sql, params }) => ({
        sql: new Sql(sql),
        params: [...params],
      }));
      return {
        store: db.store,
        probesMs: () =>
          timedAsync(async () => {
            for (const probe of probes) await named(db.client, probe.sql, probe.params);
          }),
        cleanup: () => db.close(),
      };
    },
  };
}

/**
 * Seeding through a SQLite file and a new connection, then the sweeper's first pass, took more
 * than the lag bench's 1.5 s on this 2-core machine under others' load. The lag bench adds 1 ms
 * for every 10 grants (leadFor), which is room enough here: 10,000 grants were copied in and the
 * sweeper started 1.7 s into their 5 s, at a load average of 3.5.
 */
const PG_LAG_LEAD_MS = 4_000;

/** Lag on PostgreSQL: each round on a fresh database, seeded through a SQLite file of its own. */
function pgLagDb(cluster: BenchPostgres): () => Promise<LagDb> {
  return async () => {
    const db = await open(cluster);
    const seedFile = tempDb();
    return {
      store: db.store,
      async seed(seed) {
        seedGrants(seedFile.raw, seed);
        await copySeeded(seedFile.raw, db.url, ['requests', 'grants']);
      },
      revoked: () => count(db.client, "SELECT count(*) AS n FROM grants WHERE status = 'revoked'"),
      async cleanup() {
        await seedFile.cleanup();
        await db.close();
      },
    };
  };
}

/**
 * The outbox on PostgreSQL, vacuumed and analysed once the outage is queued, as autovacuum does
 * in service: each retry rewrites the rows it holds back, and until then their old index entries
 * are walked too. In a burst, autovacuum is kept off the outbox, which is analysed once the
 * first messages have gone: what those rows show is the claim between two of its visits.
 */
function pgOutbox(cluster: BenchPostgres): OutboxStore {
  return {
    bench: on('outbox'),
    async fresh() {
      const db = await open(cluster);
      return {
        store: db.store,
        settle: async () => {
          await db.client.query('VACUUM ANALYZE outbox');
        },
        holdVacuum: async () => {
          await db.client.query('ALTER TABLE outbox SET (autovacuum_enabled = false)');
        },
        analyze: async () => {
          await db.client.query('ANALYZE outbox');
        },
        close: () => db.close(),
      };
    },
  };
}

/**
 * App Home on PostgreSQL: each seeded SQLite file copied into a database of its own, vacuumed
 * and analysed as one in service would be.
 */
function pgHome(cluster: BenchPostgres): HomeStore {
  return {
    bench: on('app-home'),
    async open(seeded) {
      const template = await templateOf(cluster, seeded.file);
      await seeded.cleanup();
      try {
        const db = await open(cluster, template.name);
        return {
          store: db.store,
          async close() {
            await db.close();
            await template.drop();
          },
        };
      } catch (err) {
        await template.drop();
        throw err;
      }
    },
  };
}

/** How long the requests `/jit` acked may take to be recorded before Approve clicks on them. */
const RECORD_WAIT_MS = 60_000;

/**
 * How many changes the request path's store lets wait. `/jit` acks before it files, and the
 * bench's 50 clients send the next request on the ack: at full size they queue thousands of
 * filings, past the default bound (HALLPASS_DATABASE_QUEUE, 1,000), which would refuse most of
 * them as busy. Raised, the row measures how fast the filings are recorded.
 */
const PATH_QUEUED_CHANGES = 10_000;

/** The oldest pending requests: PostgreSQL keeps no insertion order, the creation time does. */
const PENDING_OLDEST_FIRST =
  "SELECT id FROM requests WHERE status = 'pending' ORDER BY created_at, id LIMIT $1";

/** A PostgreSQL database read through a bare client of the bench's own (bigint comes as text). */
async function watchPostgres(url: string): Promise<WatchedDb> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const one = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
  return {
    unfinished: () => one(UNFINISHED),
    pending: async (count) =>
      (await client.query<{ id: string }>(PENDING_OLDEST_FIRST, [count])).rows.map((r) => r.id),
    recorded: () => one('SELECT count(*) AS n FROM requests'),
    pendingAmong: async (ids) =>
      Number(
        (
          await client.query<{ n: string }>(
            "SELECT count(*) AS n FROM requests WHERE status = 'pending' AND id = ANY($1)",
            [ids],
          )
        ).rows[0]!.n,
      ),
    close: () => client.end(),
  };
}

/** The whole process (startHallpass) on a fresh database of the bench cluster. */
function pgComposedDb(cluster: BenchPostgres): () => Promise<ComposedDb> {
  return async () => {
    const { name, url } = await cluster.create();
    return {
      env: { HALLPASS_DATABASE_URL: url },
      watch: () => watchPostgres(url),
      cleanup: () => cluster.drop(name),
    };
  };
}

/** The Slack request path on a fresh PostgreSQL database. */
function pgPathStore(cluster: BenchPostgres): () => Promise<PathStore> {
  return async () => {
    const db = await open(cluster, undefined, { maxQueuedChanges: PATH_QUEUED_CHANGES });
    return {
      store: db.store,
      async pending(wanted) {
        // `/jit` acks before it files: the requests it acked may still wait their turn in the
        // store's queue of changes, or still be read before it (an idle change pool does not
        // say the last filing is recorded), so Approve starts once every filing is recorded or
        // refused as busy, or they stopped coming.
        const deadline = Date.now() + RECORD_WAIT_MS;
        const read = async () => {
          const { rows } = await db.client.query<{ id: string }>(PENDING_OLDEST_FIRST, [wanted]);
          // /jit acks first, so a refused filing still answered 200 (its reply says try again).
          return { rows, refused: db.store.poolCounts().change.refused };
        };
        let { rows, refused } = await read();
        while (rows.length + refused < wanted && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          ({ rows, refused } = await read());
        }
        if (rows.length < wanted) {
          const lost = wanted - rows.length - refused;
          throw new Error(
            `${fmt(rows.length)} of the ${fmt(wanted)} requests filed were recorded and ${fmt(refused)} refused as busy: more changes waited than the store's queue holds (HALLPASS_DATABASE_QUEUE)${lost > 0 ? `; ${fmt(lost)} are unaccounted for` : ''}`,
          );
        }
        return rows.map((r) => r.id);
      },
      close: () => db.close(),
    };
  };
}

/**
 * The Slack request path on PostgreSQL, or one row saying why it could not be measured: on a
 * loaded machine requests can fail inside the bot (answered 200 all the same), and then fewer
 * requests are pending than the Approve phase clicks on.
 */
async function slackPathRows(quick: boolean, cluster: BenchPostgres): Promise<Row[]> {
  try {
    return await slackPathBench(quick, { bench: on('slack-path'), open: pgPathStore(cluster) });
  } catch (err) {
    return [
      {
        bench: on('slack-path'),
        figure: '`/jit request` then Approve, 50 clients',
        value: `not measured: ${(err as Error).message}`,
        floor: '—',
        ratio: '—',
        target: '≥ 60% of the bare app',
        met: false,
      },
    ];
  }
}

/**
 * The audit (with the chain watch, at the verify row's size), sweeper, lag, Slack request path,
 * capacity, App Home and outbox benches on a throwaway PostgreSQL 15 cluster, at the sizes of
 * their SQLite steps in run.ts, each against its floor on the same database in the same run.
 * Without PostgreSQL installed, one row says they were skipped.
 */
export function postgresBench(quick: boolean): Promise<Row[]> {
  return onBenchPostgres(async (cluster) => {
    const rounds = quick ? 3 : 5;
    const appendEvents = quick ? 5_000 : 20_000;
    return [
      await appendRows(appendEvents, 1, rounds, pgAppend(cluster)),
      await appendRows(appendEvents, 100, rounds, pgAppend(cluster)),
      ...(await chainRows(cluster, quick ? 300_000 : 1_000_000, rounds)),
      await revokeRow(quick ? 20_000 : 100_000, quick ? 2_000 : 10_000, 3, pgSweep(cluster)),
      ...(await idleRows(IDLE_SIZES(quick), pgIdle(cluster))),
      ...(await lagBench(
        { grants: LAG_SIZES, rounds: quick ? () => 1 : lagRounds(3) },
        { bench: on('lag'), fresh: pgLagDb(cluster), leadMs: PG_LAG_LEAD_MS },
      )),
      ...(await slackPathRows(quick, cluster)),
      ...(await capacityBench(quick, { bench: on('capacity'), open: pgComposedDb(cluster) })),
      ...(await appHomeBench({ ...APP_HOME_SIZES(quick), draws: 50 }, pgHome(cluster))),
      ...(await outboxBench({ sizes: OUTBOX_SIZES, claims: quick ? 20 : 50 }, pgOutbox(cluster))),
      ...(await outboxBurstBench(
        { sizes: BURST_SIZES, claims: quick ? 20 : 50 },
        pgOutbox(cluster),
      )),
    ];
  });
}

/** The weekly digest on PostgreSQL, a step of its own: its rows seed and copy a large database. */
export function postgresDigestBench(quick: boolean): Promise<Row[]> {
  return onBenchPostgres((cluster) =>
    digestRows(cluster, quick ? 200_000 : 1_000_000, quick ? 1 : 3),
  );
}

/**
 * Runs `rows` on a throwaway PostgreSQL 15 cluster, stopped after; without PostgreSQL
 * installed, one row says they were skipped.
 */
async function onBenchPostgres(rows: (cluster: BenchPostgres) => Promise<Row[]>): Promise<Row[]> {
  const missing = postgresMissing();
  if (missing) return skippedWithoutPostgres(on('every bench'), 'PostgreSQL', missing);
  const cluster = await startBenchPostgres();
  try {
    return await rows(cluster);
  } finally {
    await cluster.stop();
  }
}
