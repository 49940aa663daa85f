import { Client, type ClientConfig } from 'pg';
import type { Logger } from '../../log';
import type { Leadership, LeadershipOptions } from '../port';
import { LOCKS } from './locks';

/** How often a follower asks for the lock and the leader proves its connection is alive. */
export const DEFAULT_INTERVAL_MS = 2_000;

/**
 * How far this process's clock may be from the database server's for it to lead. Leases (a grant
 * call's fence, twice the provider's timeout) are written with one leader's clock and read with
 * the next one's: two leaders each within this of the server differ by at most twice it, which
 * a fence's margin (one provider timeout) covers for any timeout of a second or more.
 */
export const MAX_CLOCK_SKEW_MS = 500;

const SERVER_CLOCK = 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms';

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
  private readonly intervalMs: number;
  private readonly now: () => number;
  /**
   * What the last conclusive look found: this process's clock too far from the server's, or not;
   * undefined before any (a replica that has not told does not lead). Said in the log on change.
   */
  private clockOff?: boolean;

  constructor(
    private readonly settings: ClientConfig,
    options: LeadershipOptions = {},
    private readonly logger?: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

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
      if (!(await this.clockAgrees(client))) {
        // A leader whose clock drifted gives the lock up: another replica's leases would look
        // over to it (or its own endless to others) by the drift.
        if (this.leader) await this.drop();
        return;
      }
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

  /**
   * Whether this process's clock is within MAX_CLOCK_SKEW_MS of the server's. The server read its
   * clock somewhere between sending and receiving, so the round trip's uncertainty counts against
   * the replica. A look that cannot tell (a round trip over MAX_CLOCK_SKEW_MS: a loaded database;
   * or below zero: the clock jumped back meanwhile) changes nothing: the last verdict stands, as
   * refusing on it would leave no leader (and no revokes) while the database is slow; before any
   * verdict, the replica does not lead. Says so in the log when the verdict changes.
   */
  private async clockAgrees(client: Client): Promise<boolean> {
    const sent = this.now();
    const { rows } = await client.query<{ ms: number }>(SERVER_CLOCK);
    const received = this.now();
    const roundTrip = received - sent;
    if (roundTrip < 0 || roundTrip > MAX_CLOCK_SKEW_MS) return this.clockOff === false;
    const skew = Number(rows[0]?.ms) - (sent + received) / 2;
    const off = Math.abs(skew) + roundTrip / 2 > MAX_CLOCK_SKEW_MS;
    const was = this.clockOff;
    this.clockOff = off;
    if (off && was !== true) {
      this.logger?.error(
        "this replica's clock is off from the database server's; it will not lead until they agree (is NTP running?)",
        { skewMs: Math.round(-skew), allowedMs: MAX_CLOCK_SKEW_MS },
      );
    } else if (!off && was === true) {
      this.logger?.info("this replica's clock agrees with the database server's again");
    }
    return !off;
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
