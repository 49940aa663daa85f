import pg, { type ClientConfig, type PoolClient, type QueryConfig, type QueryResult } from 'pg';
import type { Logger } from '../../log';

/** What pg-pool says when no connection came free (or none could be made) in time. */
const ACQUIRE_TIMEOUT = 'timeout exceeded when trying to connect';

/** How many connections a pool has open, how many of them are free, and who waits for one. */
export interface PoolCounts {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * A pg pool with a name and a purpose, so that a connection that does not come free in time is
 * an error saying which pool ran dry and what to do, not pg-pool's bare "timeout exceeded".
 */
export class NamedPool {
  private readonly pool: pg.Pool;
  /** Connections the server cut, with why: never handed out again. */
  private readonly cut = new WeakMap<pg.ClientBase, Error>();

  constructor(
    readonly name: string,
    readonly max: number,
    private readonly settings: ClientConfig & { connectionTimeoutMillis: number },
    private readonly advice: string,
    logger?: Logger,
  ) {
    this.pool = new pg.Pool({ ...settings, max });
    // An idle connection that breaks is dropped by the pool; without a listener it would crash.
    this.pool.on('error', (err) =>
      logger?.warn(`a connection of the PostgreSQL ${name} pool failed`, { error: err.message }),
    );
    // A connection the server cuts (a restart, a failover) reports it as an 'error' event as well
    // as to the statement in progress. The pool listens only while a connection is idle, and the
    // caller can listen only once it holds it; in between (a statement's answer read with the
    // server's goodbye, handing the connection to a waiter at once) an unheard event would end
    // the process. So every connection is heard for its whole life, and one cut is not used.
    this.pool.on('connect', (client) => client.on('error', (err) => this.cut.set(client, err)));
  }

  get counts(): PoolCounts {
    return {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  /**
   * A live connection for the caller to use alone. One cut while it was handed over is closed
   * and another taken; after as many as the pool holds, the server's reason is the answer.
   */
  async connect(): Promise<PoolClient> {
    for (let tries = 0; ; tries++) {
      const client = await this.pool.connect().catch((err: Error) => {
        throw this.named(err);
      });
      const cut = this.cut.get(client);
      if (!cut) return client;
      client.release(cut);
      if (tries >= this.max) throw cut;
    }
  }

  /** Hands a connection back; one that failed (`broken`) or was cut is closed, not reused. */
  release(client: PoolClient, broken?: Error): void {
    client.release(broken ?? this.cut.get(client));
  }

  /** One statement on whichever connection is free. */
  async query<R extends pg.QueryResultRow>(config: QueryConfig): Promise<QueryResult<R>> {
    const client = await this.connect();
    try {
      return await client.query<R>(config);
    } finally {
      this.release(client);
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }

  private named(err: Error): Error {
    if (err.message !== ACQUIRE_TIMEOUT) return err;
    const seconds = this.settings.connectionTimeoutMillis / 1000;
    return new Error(
      `no connection of the PostgreSQL ${this.name} pool came free within ${seconds} s (all ${this.max} in use, or the server did not accept a new one in time); ${this.advice}`,
      { cause: err },
    );
  }
}
