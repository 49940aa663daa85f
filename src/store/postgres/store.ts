import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg, { type ClientConfig, type PoolClient } from 'pg';
import { progressTo } from '../../chain/progress';
import { ChainWalk, type RawEvent } from '../../chain/walk';
import type { Logger } from '../../log';
import { postgresDialect } from '../dialect';
import { describeUrl } from '../errors';
import type {
  ChainResult,
  ChainStart,
  ChainWalkOptions,
  Leadership,
  LeadershipOptions,
  Queries,
  Store,
} from '../port';
import type { BulkAccess } from '../copy';
import { createQueries } from '../queries';
import { tableStatements } from '../queries/context';
import { CHAIN_HEAD_SEQ, CHAIN_PAGE, CHAIN_PAGE_ROWS } from '../queries/audit';
import * as tables from '../schema/postgres';
import { PgLeadership } from './leadership';
import { LOCKS } from './locks';
import { sqlOf } from '../sql';
import { PgRunner } from './runner';

export const POSTGRES_MIGRATIONS = join(__dirname, '..', '..', '..', 'migrations', 'postgres');

/** bigint (int8) and numeric come back as text by default; every one of ours fits a number. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    return pg.types.getTypeParser(oid, format);
  },
} as ClientConfig['types'];

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  readonly?: boolean;
  logger?: Logger;
}

/**
 * The store for several replicas: one PostgreSQL database. Every change takes the same
 * transaction-scoped advisory lock first, so changes from every replica run one at a time, as
 * on SQLite, and the audit chain stays one chain; reads run concurrently on the pool.
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

  private readonly pool: pg.Pool;
  private readonly settings: ClientConfig;
  private readonly perClient = new WeakMap<PoolClient, Queries>();

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
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    };
    this.pool = new pg.Pool({ ...this.settings, max: options.maxConnections ?? 10 });
    // An idle connection that breaks is dropped by the pool; without a listener it would crash.
    this.pool.on('error', (err) =>
      options.logger?.warn('a pooled database connection failed', { error: err.message }),
    );
    const queries = createQueries(new PgRunner(this.pool), postgresDialect, tables, (work) =>
      this.transaction('BEGIN', (client) => work(new PgRunner(client))),
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
      await store.pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.checkout();
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [...LOCKS.migrate]);
      try {
        await migrate(drizzle(client), { migrationsFolder: POSTGRES_MIGRATIONS });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCKS.migrate]);
      }
    } finally {
      client.off('error', ignoreClientError);
      client.release();
    }
  }

  private queriesOn(client: PoolClient): Queries {
    let found = this.perClient.get(client);
    if (!found) {
      const runner = new PgRunner(client);
      found = createQueries(runner, postgresDialect, tables, (work) => work(runner));
      this.perClient.set(client, found);
    }
    return found;
  }

  /** One transaction on one pooled connection; a connection that failed is not reused. */
  private async transaction<T>(
    begin: string,
    work: (client: PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.checkout();
    let broken: Error | undefined;
    try {
      await client.query(begin);
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw err;
      }
    } finally {
      client.off('error', ignoreClientError);
      client.release(broken);
    }
  }

  /**
   * A pooled connection for this process to use alone. A connection the server cuts (a restart,
   * a failover) reports it as an 'error' event as well as to the query in progress; unheard, that
   * event would end the process, so it is listened to here and the query's error is handled.
   */
  private async checkout(): Promise<PoolClient> {
    const client = await this.pool.connect();
    client.on('error', ignoreClientError);
    return client;
  }

  change<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
    return this.transaction(CHANGE_BEGIN, (client) => work(this.queriesOn(client)));
  }

  snapshot<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (client) =>
      work(this.queriesOn(client)),
    );
  }

  /** Walks the chain after `from` in order, a page at a time, in one repeatable-read view. */
  verifyChain(
    from: ChainStart,
    onProgress?: (verified: number) => void,
    options: ChainWalkOptions = {},
  ): Promise<ChainResult> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
      const runner = new PgRunner(client);
      const [row] = await runner.rows(CHAIN_HEAD_SEQ);
      const newest = row?.seq == null ? 0 : Number(row.seq);
      const head = Math.min(newest, from.seq + (options.maxRows ?? Infinity));
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
    });
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
        digests: t.digests,
        people: t.people,
        meta: t.meta,
        api_tokens: t.tokens,
        pipeline_credentials: t.pipelineCredentials,
        break_glass_uses: t.breakGlass,
        follow_ups: t.followUps,
      },
      atomically: (work) => this.transaction('BEGIN', (client) => work(new PgRunner(client))),
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
    return new PgLeadership(this.settings, options.intervalMs, this.options.logger);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The error reaches the query that was running on the connection too; it is handled there. */
const ignoreClientError = () => undefined;

/** A change waits for every other change, from any replica, to commit first. */
const CHANGE_BEGIN = `BEGIN; SELECT pg_advisory_xact_lock(${LOCKS.change[0]}, ${LOCKS.change[1]})`;
