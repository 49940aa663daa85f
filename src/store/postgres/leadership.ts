import { Client, type ClientConfig } from 'pg';
import type { Logger } from '../../log';
import type { Leadership } from '../port';
import { LOCKS } from './locks';

/** How often a follower asks for the lock and the leader proves its connection is alive. */
export const DEFAULT_INTERVAL_MS = 2_000;

/**
 * Leadership through a session advisory lock held on a connection of its own. PostgreSQL frees
 * the lock the moment that session ends, so a dead leader's lock goes with its connection. The
 * session is told to end itself when it sits idle for three intervals (a leader whose process
 * hangs or whose network is cut stops heartbeating), and TCP keepalives find a peer that
 * vanished: a follower takes over within a few intervals either way.
 */
export class PgLeadership implements Leadership {
  private client?: Client;
  private leader = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private onChange: (leader: boolean) => void = () => undefined;
  private attempting?: Promise<void>;

  constructor(
    private readonly settings: ClientConfig,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
    private readonly logger?: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  async start(onChange: (leader: boolean) => void): Promise<void> {
    this.onChange = onChange;
    this.stopped = false;
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempting;
    await this.drop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.attempt(), this.intervalMs);
    this.timer.unref();
  }

  private attempt(): Promise<void> {
    this.attempting = this.tryOnce().finally(() => this.schedule());
    return this.attempting;
  }

  private async tryOnce(): Promise<void> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.leader) {
        await client.query('SELECT 1');
        return;
      }
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS ok',
        [...LOCKS.leader],
      );
      if (rows[0]?.ok && !this.stopped) {
        this.leader = true;
        this.logger?.info('this replica is now the leader');
        this.onChange(true);
      }
    } catch (err) {
      this.logger?.warn('leadership connection failed', { error: (err as Error).message });
      await this.drop();
    }
  }

  private async connect(): Promise<Client> {
    const idleMs = this.intervalMs * 3;
    const client = new Client({
      ...this.settings,
      keepAlive: true,
      connectionTimeoutMillis: this.intervalMs * 2,
      statement_timeout: this.intervalMs * 2,
      query_timeout: this.intervalMs * 2,
    });
    client.on('error', () => void this.drop());
    await client.connect();
    await client.query(
      `SET idle_session_timeout = ${idleMs}; SET tcp_keepalives_idle = ${Math.ceil(idleMs / 2000)};
       SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 2`,
    );
    this.client = client;
    return client;
  }

  /** Gives up the connection (and with it the lock), and says so if this was the leader. */
  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.leader) {
      this.leader = false;
      this.logger?.warn('this replica is no longer the leader');
      this.onChange(false);
    }
    await client?.end().catch(() => undefined);
  }
}
