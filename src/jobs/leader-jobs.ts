import type { Logger } from '../log';
import type { Leadership } from '../store';

/** A job that must run in one process at a time: the sweeper, the reconciler. */
export interface LeaderJob {
  start(): Promise<void> | void;
  stop(): Promise<void>;
}

/**
 * Runs `jobs` while this process leads and stops them when leadership is lost. Transitions run
 * one after another, so a quick lose-and-regain never leaves two copies running.
 */
export class LeaderJobs {
  private transitions: Promise<void> = Promise.resolve();
  private running = false;
  /** The jobs' first runs since this process last took the lead. */
  private firstRuns: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly leadership: Leadership,
    private readonly jobs: readonly LeaderJob[],
    private readonly logger: Logger,
  ) {}

  get leading(): boolean {
    return this.leadership.isLeader;
  }

  /** Starts campaigning; when this process leads at once, resolves after the jobs' first runs. */
  async start(): Promise<void> {
    await this.leadership.start((leader) => this.follow(leader));
    await this.transitions;
    await this.firstRuns;
  }

  async stop(): Promise<void> {
    await this.leadership.stop();
    this.follow(false);
    await this.transitions;
  }

  private follow(leader: boolean): void {
    this.transitions = this.transitions.then(async () => {
      if (leader === this.running) return;
      this.running = leader;
      if (leader) {
        // Started, not waited for: a first run (the sweeper's catch-up after a failover) may take
        // long, and leadership lost meanwhile must stop it at once, not after it.
        this.firstRuns = Promise.all(
          this.jobs.map((job) => this.attempt('start', () => job.start())),
        );
      } else {
        for (const job of [...this.jobs].reverse()) await this.attempt('stop', () => job.stop());
      }
    });
  }

  private async attempt(what: 'start' | 'stop', step: () => Promise<void> | void): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.logger.error(`could not ${what} the leader's jobs`, {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
