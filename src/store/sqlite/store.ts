import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { progressTo } from '../../chain/progress';
import { ChainWalk, GENESIS_HASH, outsideChainReport } from '../../chain/walk';
import { sqliteDialect } from '../dialect';
import type {
  ChainResult,
  ChainHead,
  ChainStart,
  ChangeQueueCounts,
  ChainWalkOptions,
  Leadership,
  Queries,
  Store,
} from '../port';
import type { BulkAccess } from '../copy';
import { createQueries } from '../queries';
import { tableStatements } from '../queries/context';
import { CHAIN_OUTSIDE_ROW, CHAIN_STEP_END } from '../queries/audit';
import * as tables from '../schema/sqlite';
import { Sql, type BoundSql, type Param, type RawRow, type Runner } from '../sql';
import { SELECT_EVENTS_PAGE, walkRange } from './chain-pages';
import { checkpointInBackground, type Checkpointer, type CheckpointOptions } from './checkpointer';
import { GroupCommit } from './group-commit';
import { registerNearestRank } from './nearest-rank';
import { SqliteRunner } from './runner';
import { verifyInParallel } from './verify-parallel';

export const SQLITE_MIGRATIONS = join(__dirname, '..', '..', '..', 'migrations', 'sqlite');

export interface SqliteOptions {
  /** Open an existing file for reading only (the CLI's read commands): no migration, no writes. */
  readonly?: boolean;
  busyTimeoutMs?: number;
  /** Checkpoint the WAL on a thread of its own (the bot); the CLI leaves it to SQLite. */
  backgroundCheckpoints?: CheckpointOptions;
  /** How a long chain walk uses worker threads; the defaults suit a real chain. */
  verify?: VerifyOptions;
}

export interface VerifyOptions {
  /** Threads walking ranges at once; 1 walks in order on this thread. Default: the cores, up to 4. */
  workers?: number;
  /** Rows below which the walk stays on this thread (starting workers costs ~50 ms). */
  parallelFromRows?: number;
  /** Rows per range handed to a worker. */
  rangeRows?: number;
}

// Prepared once: compiling them again for every change cost a third of an empty transaction.
const BEGIN_IMMEDIATE = new Sql('BEGIN IMMEDIATE');
const COMMIT = new Sql('COMMIT');
const ROLLBACK = new Sql('ROLLBACK');
const SAVEPOINT = new Sql('SAVEPOINT change');
const RELEASE = new Sql('RELEASE change');
const ROLLBACK_TO = new Sql('ROLLBACK TO change');
/**
 * At most this many queued changes share one commit. Each waited for the one before it anyway;
 * the cap bounds how long the first of them waits for the others' work before its commit.
 */
const CHANGES_PER_COMMIT = 16;

const VERIFY_DEFAULTS: Required<VerifyOptions> = {
  workers: Math.min(4, availableParallelism()),
  parallelFromRows: 200_000,
  rangeRows: 50_000,
};

function connect(file: string, readonly: boolean, busyTimeoutMs: number): Database.Database {
  const client = new Database(file, { readonly, fileMustExist: readonly });
  client.pragma(`busy_timeout = ${busyTimeoutMs}`);
  if (!readonly) {
    client.pragma('journal_mode = WAL');
    client.pragma('synchronous = NORMAL');
    // Sealed credentials are cleared once delivered; do not leave the old bytes in free pages.
    client.pragma('secure_delete = ON');
  }
  client.pragma('foreign_keys = ON');
  registerNearestRank(client);
  return client;
}

/** The single process that uses an SQLite file runs every job itself. */
const soleLeader: Leadership = {
  isLeader: true,
  async start(onChange) {
    onChange(true);
  },
  async stop() {},
};

/**
 * The embedded store: one SQLite file in WAL mode. Changes run one at a time on the write
 * connection (`BEGIN IMMEDIATE`, so another process such as the CLI cannot interleave a write),
 * and those that queued up behind one share its commit (GroupCommit); committed reads go to a
 * second, read-only connection, so they never see a change half made.
 */
export class SqliteStore implements Store {
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

  private readonly writer?: Database.Database;
  private readonly reader: Database.Database;
  private readonly tx?: Queries;
  private readonly writerStatements?: SqliteRunner;
  private readonly checkpointer?: Checkpointer;
  private readonly verify: Required<VerifyOptions>;
  private readonly changes = new GroupCommit(
    {
      begin: (since) => this.begin(since),
      commit: () => {
        this.statement(COMMIT);
        this.checkpointer?.wrote();
      },
      rollback: () => this.statement(ROLLBACK),
      savepoint: () => this.statement(SAVEPOINT),
      release: () => this.statement(RELEASE),
      undoToSavepoint: () => {
        this.statement(ROLLBACK_TO);
        this.statement(RELEASE);
      },
      inTransaction: () => this.writer?.inTransaction === true,
    },
    CHANGES_PER_COMMIT,
  );

  constructor(
    readonly file: string,
    private readonly options: SqliteOptions = {},
  ) {
    this.description = `sqlite:${file}`;
    this.verify = { ...VERIFY_DEFAULTS, ...options.verify };
    const busy = options.busyTimeoutMs ?? 5000;
    if (!options.readonly) {
      mkdirSync(dirname(file), { recursive: true });
      this.writer = connect(file, false, busy);
      migrate(drizzle(this.writer), { migrationsFolder: SQLITE_MIGRATIONS });
      // From here on the write lock is waited for without blocking the event loop (see begin).
      this.writer.pragma('busy_timeout = 0');
      const runner = new SqliteRunner(this.writer);
      this.writerStatements = runner;
      this.tx = createQueries(runner, sqliteDialect, tables, (work) => work(runner));
      if (options.backgroundCheckpoints) {
        this.checkpointer = checkpointInBackground(
          this.writer,
          file,
          options.backgroundCheckpoints,
        );
      }
    }
    this.reader = connect(file, true, busy);
    const committed = new CommittedRunner(this.reader, this.writerStatements, (work) =>
      this.writeTransaction(() => work(this.writerRunner())),
    );
    const queries = createQueries(committed, sqliteDialect, tables, (work) =>
      this.writeTransaction(() => work(this.writerRunner())),
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

  async change<T>(work: (tx: Queries, chain: ChainHead) => Promise<T>): Promise<T> {
    const tx = this.tx;
    if (!tx) throw new Error(`${this.file} is open read-only`);
    return this.writeTransaction(async () => work(tx, () => tx.audit.head()));
  }

  private writerRunner(): SqliteRunner {
    if (!this.writerStatements) throw new Error(`${this.file} is open read-only`);
    return this.writerStatements;
  }

  /**
   * Runs `work` in a write transaction, which changes queued behind it may share (GroupCommit):
   * it is committed, or undone alone, before its caller hears of it.
   */
  private writeTransaction<T>(work: () => Promise<T>): Promise<T> {
    if (!this.writer) return Promise.reject(new Error(`${this.file} is open read-only`));
    return this.changes.run(work);
  }

  private statement(sql: Sql): void {
    this.writerRunner().prepared(sql).run();
  }

  /**
   * `BEGIN IMMEDIATE`, waiting for another process (the CLI, a backup) that holds the write
   * lock, or for the checkpoint thread while it starts the WAL over. SQLite's own busy timeout
   * would sleep on this thread, freezing every request; this waits between tries instead (for
   * the thread, until it wakes the writes), then fails as SQLite would. The timeout counts from
   * `since`, when the change was asked for: one queued behind another that waited out the lock
   * does not wait as long again.
   */
  private async begin(since: number): Promise<void> {
    const deadline = since + (this.options.busyTimeoutMs ?? 5000);
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      if (this.checkpointer?.holdsWrites() === true && Date.now() < deadline) {
        await this.checkpointer.writesResumed(deadline - Date.now());
        continue;
      }
      if (this.tryBegin(deadline)) {
        this.checkpointer?.wrote();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** False when another connection holds the write lock and there is time left to wait. */
  private tryBegin(deadline: number): boolean {
    try {
      this.writerRunner().prepared(BEGIN_IMMEDIATE).run();
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY') && Date.now() < deadline)
        return false;
      throw err;
    }
  }

  async snapshot<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
    const view = connect(this.file, true, this.options.busyTimeoutMs ?? 5000);
    try {
      view.prepare('BEGIN').run();
      const runner = new SqliteRunner(view);
      const queries = createQueries(runner, sqliteDialect, tables, (w) => w(runner));
      return await work(queries);
    } finally {
      view.close();
    }
  }

  /**
   * Walks the chain in order and names the first row that does not match, or first a row below
   * seq 1, which no walk reads. A long chain is
   * walked by worker threads over seq ranges, joined in order here: the report is the same.
   * Everything is read from one snapshot; the workers read the same committed state.
   */
  async verifyChain(
    from: ChainStart,
    onProgress?: (verified: number) => void,
    options: ChainWalkOptions = {},
  ): Promise<ChainResult> {
    const progress = progressTo(onProgress);
    const view = connect(this.file, true, this.options.busyTimeoutMs ?? 5000);
    try {
      return view
        .transaction((): ChainResult => {
          const outside = view.prepare(CHAIN_OUTSIDE_ROW.text).pluck().get() as number | undefined;
          if (outside !== undefined) return outsideChainReport(outside);
          const headRow = view
            .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')
            .get() as ChainStart | undefined;
          const head = headRow?.seq ?? 0;
          if (head <= from.seq) return { checked: 0, intact: true, head: from };
          const { workers, parallelFromRows, rangeRows } = this.verify;
          // A step (maxRows) stays on this thread: it is kept short so the thread is not held long.
          if (options.maxRows === undefined && workers > 1 && head - from.seq >= parallelFromRows) {
            const plan = { file: this.file, start: from, head, workers, rangeRows };
            const report = verifyInParallel(plan, progress);
            if (report) return report.intact ? { ...report, head: headRow } : report;
          }
          const stepEnd =
            options.maxRows === undefined
              ? undefined
              : (view
                  .prepare(CHAIN_STEP_END.text)
                  .pluck()
                  .get(from.seq, options.maxRows - 1) as number | undefined);
          const upTo = stepEnd ?? head;
          const walk = new ChainWalk(from);
          walkRange(view.prepare(SELECT_EVENTS_PAGE), walk, from.seq, upTo, () =>
            progress(walk.checked),
          );
          const report = walk.report();
          return report.intact ? { ...report, head: walk.result().last ?? from } : report;
        })
        .deferred();
    } finally {
      view.close();
    }
  }

  leadership(): Leadership {
    return soleLeader;
  }

  /** Raw access for copying the database elsewhere (`hallpass db copy`). */
  bulk(): BulkAccess {
    const t = tableStatements(tables);
    const reader = new SqliteRunner(this.reader);
    return {
      runner: reader,
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
      atomically: (work) =>
        this.writeTransaction(() => work(new SqliteRunner(this.writer ?? this.reader))),
      // INTEGER PRIMARY KEY takes the next id after the largest one by itself.
      afterImport: async () => undefined,
    };
  }

  async ping(): Promise<void> {
    this.reader.prepare('SELECT 1').get();
  }

  /** SQLite's changes wait without a bound: each is short, and on this thread. */
  changeQueue(): ChangeQueueCounts {
    return { waiting: this.changes.waitingCount, refused: 0 };
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.changes.idle();
    this.writer?.close();
    this.reader.close();
  }
}

/**
 * The store's own queries: reads see only what is committed; each write is a transaction of its
 * own, queued with the changes.
 */
class CommittedRunner implements Runner {
  private readonly read: SqliteRunner;

  constructor(
    reader: Database.Database,
    private readonly idleWriter: SqliteRunner | undefined,
    private readonly onWriter: <T>(work: (runner: SqliteRunner) => Promise<T>) => Promise<T>,
  ) {
    this.read = new SqliteRunner(reader);
  }

  /**
   * The write connection while no change is open on it, else the read-only one. SQLite drops a
   * connection's page cache when another connection commits, so under a steady stream of
   * changes every read on the read-only connection paged its b-trees in again; the writer's
   * cache holds what it wrote. A read runs to its end before anything else on this thread, so it
   * cannot see a change half made. The writer does not wait for locks (see begin); a WAL read
   * needs none except while another process recovers the file after a crash, and a read caught
   * by that fails as busy, which callers already answer with "try again".
   */
  private reading(): SqliteRunner {
    const writer = this.idleWriter;
    return writer && !writer.db.inTransaction ? writer : this.read;
  }

  /** Read-only statements are read; anything else waits its turn on the writer. */
  private route<T>(sql: Sql, work: (r: SqliteRunner) => Promise<T>): Promise<T> {
    return this.read.prepared(sql).readonly ? work(this.reading()) : this.onWriter(work);
  }

  rows(sql: Sql, params?: readonly Param[]): Promise<RawRow[]> {
    return this.route(sql, (r) => r.rows(sql, params));
  }

  arrays(sql: Sql, params?: readonly Param[]): Promise<unknown[][]> {
    return this.reading().arrays(sql, params);
  }

  run(sql: Sql, params?: readonly Param[]): Promise<number> {
    return this.route(sql, (r) => r.run(sql, params));
  }

  async write(sql: Sql, params?: readonly Param[]): Promise<void> {
    await this.run(sql, params);
  }

  /** Together they run to their end before anything else, so they agree. */
  rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]> {
    return this.reading().rowsOfEach(statements);
  }
}

export { GENESIS_HASH };
