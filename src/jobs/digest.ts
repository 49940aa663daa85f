import { createTask, type ScheduledTask } from 'node-cron';
import { previousFire, weekEndingAt } from '../audit/period';
import type { Core } from '../core';
import { logger as defaultLogger, type Logger } from '../log';

/** How long to wait before trying again when queueing a period failed (the database was busy). */
const RETRY_MS = 60_000;

/**
 * Queues the weekly digest: one `digest` outbox row per period, on `digest.schedule` in the
 * configured zone. The period is recorded in `digests` in the same transaction as its outbox
 * row and its `digest.queued` audit event, so restarts, overlapping ticks and several
 * schedulers on one database queue each period exactly once. On start it queues the latest
 * period that ended while the bot was down, if it was not queued yet.
 */
export class DigestScheduler {
  private task: ScheduledTask | undefined;
  /** When Hallpass first ran on this database. */
  private since = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: Core,
    private readonly logger: Logger = defaultLogger,
    /** Told how each run ended: a digest queued, nothing to queue, or a failure (for /metrics). */
    private readonly onRun?: (outcome: 'queued' | 'none' | 'failed') => void,
  ) {}

  /** Starts the cron job and catches up; does nothing without a `digest` section. */
  async start(): Promise<void> {
    const digest = this.core.config.digest;
    if (!digest || this.task) return;
    // A late run (the process was busy or asleep) queues the latest period ended by then.
    const onTick = (slot: number) => void this.queueLatest(Math.max(this.core.now(), slot));
    this.task = createTask(digest.schedule, (run) => onTick(run.date.getTime()), {
      timezone: this.core.config.timezone,
      name: 'hallpass-digest',
      noOverlap: true,
    });
    this.task.start();
    this.since = await this.core.firstStartedAt();
    await this.queueLatest(this.core.now());
  }

  async stop(): Promise<void> {
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.task?.destroy();
    this.task = undefined;
  }

  /** The latest tick of the running schedule at or before `at`, or null when there is none. */
  private lastTick(at: number): number | null {
    const { config } = this.core;
    const task = this.task;
    if (!config.digest || !task) return null;
    return previousFire(config.digest.schedule, config.timezone, at, (date) => task.match(date));
  }

  /**
   * Records the 7 days ending at `periodEnd` and queues their digest, unless that period was
   * queued before (by this process, an earlier one, or another scheduler). True when queued now.
   */
  async queue(periodEnd: number): Promise<boolean> {
    const { config } = this.core;
    if (!config.digest) return false;
    return this.core.queueDigest(weekEndingAt(periodEnd, config.timezone), config.digest.channel);
  }

  /**
   * Queues the period ending at the latest tick at or before `at`. When the database refuses,
   * tries again a minute later rather than wait for the next tick a week away.
   */
  private async queueLatest(at: number): Promise<void> {
    clearTimeout(this.retry);
    this.retry = undefined;
    try {
      const tick = this.lastTick(at);
      // A week that ended before Hallpass first ran has nothing to tell.
      if (tick !== null && tick > this.since && (await this.queue(tick))) {
        this.logger.info('digest queued', { periodEnd: new Date(tick).toISOString() });
        this.onRun?.('queued');
      } else {
        this.onRun?.('none');
      }
    } catch (err) {
      this.onRun?.('failed');
      this.logger.error('could not queue the digest; retrying', {
        error: err instanceof Error ? err.message : String(err),
        retryInMs: RETRY_MS,
      });
      this.retry = setTimeout(() => void this.queueLatest(at), RETRY_MS);
      this.retry.unref();
    }
  }
}
