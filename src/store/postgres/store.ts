import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg, { type ClientConfig, type PoolClient } from 'pg';
import { progressTo } from '../../chain/progress';
import { ChainWalk, outsideChainReport, type RawEvent } from '../../chain/walk';
import type { Logger } from '../../log';
import { postgresDialect } from '../dialect';
import { describeUrl } from '../errors';
import type {
  ChainResult,
  ChainHead,
  ChainStart,
  ChangeQueueCounts,
  ChainWalkOptions,
  Leadership,
  LeadershipOptions,
  Queries,
  Store,
} from '../port';
import type { BulkAccess } from '../copy';
import { createQueries } from '../queries';
import { tableStatements } from '../queries/context';
import {
  CHAIN_HEAD,
  CHAIN_HEAD_SEQ,
  CHAIN_OUTSIDE_ROW,
  CHAIN_PAGE,
  CHAIN_PAGE_ROWS,
  CHAIN_STEP_END,
  chainStart,
} from '../queries/audit';
import * as tables from '../schema/postgres';
import { PgLeadership } from './leadership';
import { LOCKS } from './locks';
import { ChangeQueue } from '../change-queue';
import { NamedPool, type PoolCounts } from './pool';
import { Sql, sqlOf, type RawRow } from '../sql';
import { CarriedCommit } from './carried-commit';
import { PgRunner, PgTransactionRunner } from './runner';

/** How a snapshot's transaction is set up after its BEGIN (see `snapshot`). */
export const SNAPSHOT_ON_ONE_BACKEND = 'SET LOCAL max_parallel_workers_per_gather = 0';

export const POSTGRES_MIGRATIONS = join(__dirname, '..', '..', '..', 'migrations', 'postgres');

/** bigint (int8) and numeric come back as text by default; every one of ours fits a number. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    return pg.types.getTypeParser(oid, format);
  },
} as ClientConfig['types'];

/** Connections a store opens at most when not told otherwise: one for changes, the rest for reads. */
export const DEFAULT_MAX_CONNECTIONS = 10;

/** One connection for changes and at least one for everything else. */
export const MIN_CONNECTIONS = 2;

/** Where a walk after `from` ends: the newest row, or a step's `maxRows`th row when as many follow. */
async function walkEnd(runner: PgRunner, from: number, maxRows?: number): Promise<number> {
  if (maxRows !== undefined) {
    const [end] = await runner.rows(CHAIN_STEP_END, [from, maxRows - 1]);
    if (end?.seq != null) return Number(end.seq);
  }
  const [newest] = await runner.rows(CHAIN_HEAD_SEQ);
  return newest?.seq == null ? 0 : Number(newest.seq);
}

/** What to do when a pool runs dry: said in the error, so an operator need not look it up. */
const POOL_ADVICE =
  'raise HALLPASS_DATABASE_POOL, check that the server accepts this many connections, and look for slow statements in pg_stat_activity';

export interface PostgresOptions {
  /**
   * Connections the store opens at most (default DEFAULT_MAX_CONNECTIONS, at least
   * MIN_CONNECTIONS): one is kept for changes, the others serve reads and the outbox.
   */
  maxConnections?: number;
  /** How long a statement or transaction waits for a free connection (default 10 s). */
  acquireTimeoutMs?: number;
  /** Changes of this process that may wait for their turn before more are refused (default 1,000). */
  maxQueuedChanges?: number;
  readonly?: boolean;
  logger?: Logger;
}

/**
 * The store for several replicas: one PostgreSQL database. Every change takes the same
 * transaction-scoped advisory lock first, so changes from every replica run one at a time, as
 * on SQLite, and the audit chain stays one chain; reads run concurrently on the pool.
 *
 * Since changes run one at a time anyway, a process sends one at a time: the others wait their
 * turn here, in memory, on a connection of their own (the `change` pool, of one). A change
 * waiting for the lock on a pooled connection would hold that connection for the whole wait,
 * and a burst of changes would take every connection and leave reads and the outbox none.
 */
export class PostgresStore implements Store {
  readonly description: string;
  readonly requests: Queries['requests'];
  readonly approvals: Queries['approvals'];
  readonly grants: Queries['grants'];
  readonly audit: Queries['audit'];
  readonly outbox: Queries['outbox'];
  readonly messages: Queries['messages'];
  readonly digests: Queries['digests'];
  readonly reports: Queries['reports'];
  readonly people: Queries['people'];
  readonly meta: Queries['meta'];
  readonly checkpoint: Queries['checkpoint'];
  readonly gauges: Queries['gauges'];
  readonly tokens: Queries['tokens'];
  readonly pipelineCredentials: Queries['pipelineCredentials'];
  readonly breakGlass: Queries['breakGlass'];
  readonly followUps: Queries['followUps'];

  /** Reads, the outbox's own transactions and snapshots. */
  private readonly pool: NamedPool;
  /** The one connection this process's changes take turns on. */
  private readonly changePool: NamedPool;
  /** Changes of this process, in the order they came, one at a time, with a bound on the wait. */
  private readonly changes: ChangeQueue;
  /** The last change's COMMIT, to go in the next change's first round trip. */
  private carried: CarriedCommit | undefined;
  private readonly settings: ClientConfig & { connectionTimeoutMillis: number };
  private readonly runners = new WeakMap<PoolClient, PgTransactionRunner>();
  private readonly perRunner = new WeakMap<PgTransactionRunner, Queries>();

  private constructor(
    url: string,
    private readonly options: PostgresOptions,
  ) {
    this.description = describeUrl(url);
    this.settings = {
      connectionString: url,
      types,
      // A change must never wait forever: on a lock held by a hung replica, or a dead server.
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 30_000,
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
      keepAlive: true,
    };
    const max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(max) || max < MIN_CONNECTIONS)
      throw new Error(
        `a PostgreSQL store needs at least ${MIN_CONNECTIONS} connections (one for changes, one for reads), not ${max}`,
      );
    this.pool = new NamedPool('read', max - 1, this.settings, POOL_ADVICE, options.logger);
    this.changePool = new NamedPool('change', 1, this.settings, POOL_ADVICE, options.logger);
    this.changes = new ChangeQueue(options.maxQueuedChanges);
    const queries = createQueries(new PgRunner(this.pool), postgresDialect, tables, (work) =>
      this.transaction(this.pool, 'BEGIN', (runner) => work(runner)),
    );
    this.requests = queries.requests;
    this.approvals = queries.approvals;
    this.grants = queries.grants;
    this.audit = queries.audit;
    this.outbox = queries.outbox;
    this.messages = queries.messages;
    this.digests = queries.digests;
    this.reports = queries.reports;
    this.people = queries.people;
    this.meta = queries.meta;
    this.checkpoint = queries.checkpoint;
    this.gauges = queries.gauges;
    this.tokens = queries.tokens;
    this.pipelineCredentials = queries.pipelineCredentials;
    this.breakGlass = queries.breakGlass;
    this.followUps = queries.followUps;
  }

  /**
   * Connects and migrates (once, whichever replica gets there first); `readonly` (the CLI's
   * read commands) leaves the schema as it is.
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, options);
    try {
      if (options.readonly) await store.ping();
      else await store.migrate();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Replicas started together wait for whichever migrates first, however long it takes (an
      // index built over a large audit log), and a migration's own statements are not cut short.
      await client.query('SET statement_timeout = 0');
      await client.query('SELECT pg_advisory_lock($1, $2)', [...LOCKS.migrate]);
      try {
        await migrate(drizzle(client), { migrationsFolder: POSTGRES_MIGRATIONS });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCKS.migrate]);
      }
      await client.query('RESET statement_timeout');
    } finally {
      this.pool.release(client);
    }
  }

  private queriesOn(runner: PgTransactionRunner): Queries {
    let found = this.perRunner.get(runner);
    if (!found) {
      found = createQueries(runner, postgresDialect, tables, (work) => work(runner));
      this.perRunner.set(runner, found);
    }
    return found;
  }

  private runnerOn(client: PoolClient): PgTransactionRunner {
    let found = this.runners.get(client);
    if (!found) {
      found = new PgTransactionRunner(client);
      this.runners.set(client, found);
    }
    return found;
  }

  /**
   * One transaction on a connection of `pool`; a connection that failed is not reused. `begin`
   * goes in the round trip of the transaction's first statement.
   */
  private async transaction<T>(
    pool: NamedPool,
    begin: string,
    work: (runner: PgTransactionRunner) => Promise<T>,
  ): Promise<T> {
    const client = await pool.connect();
    const runner = this.runnerOn(client);
    let broken: Error | undefined;
    try {
      try {
        // Inside the rollback's reach: a change's first round trip also waits for the change
        // lock, and a wait cut short by the statement timeout leaves the transaction open and
        // aborted.
        runner.hold(begin);
        const result = await work(runner);
        await runner.commit();
        return result;
      } catch (err) {
        runner.discard();
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw err;
      }
    } finally {
      pool.release(client, broken);
    }
  }

  /**
   * Waits for this process's earlier changes here, then for other processes' on the lock. While
   * no other replica holds the lock, the BEGIN, the lock and the read of the chain's head go in
   * the round trip of the change's first statement, and while another change of this process
   * waits, the COMMIT goes in that change's first round trip (`CarriedCommit`): each round trip on
   * the one change connection is time every change behind this one waits. When another replica
   * holds the lock, the change is rolled back as that round trip comes back and starts again once
   * it has the lock: `work` takes its time when it starts (a lease, an audit event), which must
   * not come from before a wait.
   */
  async change<T>(work: (tx: Queries, chain: ChainHead) => Promise<T>): Promise<T> {
    const { result, committed } = await this.changes.run(async () => {
      const carried = this.carried;
      this.carried = undefined;
      try {
        return await this.changeOnce(work, carried, 'try');
      } catch (err) {
        if (err instanceof ChangeLockBusy) return this.changeOnce(work, undefined, 'wait');
        if (err instanceof CarriedCommitFailed) return this.changeOnce(work, undefined, 'try');
        throw err;
      }
    });
    await committed;
    return result;
  }

  /**
   * One attempt at a change on the change connection, sending first the COMMIT `carried` from the
   * change before. Its own COMMIT is carried in turn when another change waits by its end; the
   * connection then stays taken for that change.
   */
  private async changeOnce<T>(
    work: (tx: Queries, chain: ChainHead) => Promise<T>,
    carried: CarriedCommit | undefined,
    lock: 'try' | 'wait',
  ): Promise<{ result: T; committed: Promise<void> }> {
    const client = carried?.client ?? (await this.changePool.connect());
    const runner = this.runnerOn(client);
    let kept = false;
    let broken: Error | undefined;
    let patience: NodeJS.Immediate | undefined;
    try {
      try {
        if (carried) {
          runner.holdFirst(carried.statements);
          patience = setImmediate(() => void carried.sendAlone(runner));
        }
        runner.hold('BEGIN');
        if (lock === 'wait') await runner.run(CHANGE_LOCK);
        else runner.ask(TRY_CHANGE_LOCK, [], lockedOrBusy);
        // Asked only when another change waits already, so it is likely to be carried.
        const xid = this.changes.waiting > 0 ? runner.ask(CURRENT_XID) : undefined;
        const result = await this.changeOn(runner, work);
        if (xid && this.changes.waiting > 0) {
          const [row] = await xid();
          this.carried = new CarriedCommit(client, runner, Number(row!.xid));
          kept = true;
          return { result, committed: this.carried.committed };
        }
        await runner.commit();
        return { result, committed: Promise.resolve() };
      } catch (err) {
        const oursNeverRan = carried ? await carried.settleAfter(runner, err) : false;
        runner.discard();
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw oursNeverRan ? new CarriedCommitFailed() : err;
      }
    } finally {
      clearImmediate(patience);
      if (!kept) this.changePool.release(client, broken);
    }
  }

  /**
   * Runs a change's work after its lock, whose round trip has gone or is held; nothing commits
   * before that round trip came back holding the lock.
   */
  private async changeOn<T>(
    runner: PgTransactionRunner,
    work: (tx: Queries, chain: ChainHead) => Promise<T>,
  ): Promise<T> {
    const head = runner.ask(CHAIN_HEAD);
    const result = await work(this.queriesOn(runner), async () => chainStart((await head())[0]));
    await head();
    return result;
  }

  /**
   * The weekly digest's view: background work, so its reads run on its own backend alone and
   * leave the server's other cores to the changes and reads being served. On two cores its
   * parallel plans were slower as well: the dense week's digest took 1.7 to 1.9 s with them and
   * 1.2 s without (docs/performance-journal.md, 2026-12-05, evening).
   */
  snapshot<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
    return this.transaction(
      this.pool,
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      (runner) => {
        runner.hold(SNAPSHOT_ON_ONE_BACKEND);
        return work(this.queriesOn(runner));
      },
    );
  }

  /**
   * Connections open, free and waited for, per pool, and the changes waiting their turn or
   * refused past the bound (for /metrics, the bench and tests).
   */
  poolCounts(): { read: PoolCounts; change: PoolCounts & { queued: number; refused: number } } {
    const { waiting, refused } = this.changeQueue();
    return {
      read: this.pool.counts,
      change: { ...this.changePool.counts, queued: waiting, refused },
    };
  }

  changeQueue(): ChangeQueueCounts {
    return { waiting: this.changes.waiting, refused: this.changes.refused };
  }

  /**
   * Walks the chain after `from` in order, a page at a time, in one repeatable-read view; first
   * names a row below seq 1, which no walk reads.
   */
  verifyChain(
    from: ChainStart,
    onProgress?: (verified: number) => void,
    options: ChainWalkOptions = {},
  ): Promise<ChainResult> {
    return this.transaction(
      this.pool,
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      async (runner) => {
        const [outside] = await runner.rows(CHAIN_OUTSIDE_ROW);
        if (outside) return outsideChainReport(Number(outside.seq));
        const head = await walkEnd(runner, from.seq, options.maxRows);
        if (head <= from.seq) return { checked: 0, intact: true, head: from };
        const walk = new ChainWalk(from);
        const progress = progressTo(onProgress);
        let last: ChainStart = from;
        for (let after = from.seq; ;) {
          const rows = (await runner.arrays(CHAIN_PAGE, [
            after,
            head,
            CHAIN_PAGE_ROWS,
          ])) as RawEvent[];
          if (rows.length === 0 || !walk.feed(rows)) break;
          const end = rows[rows.length - 1]!;
          last = { seq: end[0], hash: end[8] };
          progress(walk.checked);
          if (rows.length < CHAIN_PAGE_ROWS) break;
          after = end[0];
        }
        const report = walk.report();
        return report.intact ? { ...report, head: last } : report;
      },
    );
  }

  /** Raw access for copying a database in (`hallpass db copy`). */
  bulk(): BulkAccess {
    const t = tableStatements(tables);
    return {
      runner: new PgRunner(this.pool),
      tables: {
        requests: t.requests,
        approvals: t.approvals,
        grants: t.grants,
        audit_events: t.audit,
        outbox: t.outbox,
        slack_messages: t.messages,
        home_viewers: t.homeViewers,
        digests: t.digests,
        people: t.people,
        meta: t.meta,
        api_tokens: t.tokens,
        pipeline_credentials: t.pipelineCredentials,
        break_glass_uses: t.breakGlass,
        follow_ups: t.followUps,
      },
      atomically: (work) => this.transaction(this.pool, 'BEGIN', (runner) => work(runner)),
      // Rows came with their ids: the serial sequences must continue after the largest.
      afterImport: async (runner) => {
        for (const table of ['approvals', 'outbox']) {
          await runner.rows(
            sqlOf(
              `SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${table}`,
            ),
          );
        }
      },
    };
  }

  leadership(options: LeadershipOptions = {}): Leadership {
    return new PgLeadership(this.settings, options, this.options.logger);
  }

  async ping(): Promise<void> {
    await this.pool.query({ text: 'SELECT 1' });
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.changePool.end()]);
  }
}

/** A change waits for every other change, from any replica, to commit first. */
const CHANGE_LOCK = new Sql(`SELECT pg_advisory_xact_lock(${LOCKS.change[0]}, ${LOCKS.change[1]})`);
/** The same lock, when it is free; no wait. */
const TRY_CHANGE_LOCK = new Sql(
  `SELECT pg_try_advisory_xact_lock(${LOCKS.change[0]}, ${LOCKS.change[1]}) AS locked`,
);

/** The transaction's id, which says later whether it committed (`CarriedCommit`). */
const CURRENT_XID = new Sql('SELECT txid_current() AS xid');

/**
 * The COMMIT carried from the change before failed in this change's first round trip, so none
 * of this change's statements ran: it starts again.
 */
class CarriedCommitFailed extends Error {
  constructor() {
    super("the change before this one failed in this one's first round trip");
    this.name = 'CarriedCommitFailed';
  }
}

/** Another replica held the change lock when a change's first round trip asked for it. */
class ChangeLockBusy extends Error {
  constructor() {
    super('another replica holds the change lock');
    this.name = 'ChangeLockBusy';
  }
}

function lockedOrBusy(rows: RawRow[]): void {
  if (rows[0]?.locked !== true) throw new ChangeLockBusy();
}
