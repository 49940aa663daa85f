import type { Core } from '../core';
import type { Logger } from '../log';
import { describeError } from './provider-call';
import { throttle } from './throttle';

/**
 * How often the job looks anyway: another replica's change does not wake this one, and a pass
 * that failed (the database was out of reach) is tried again by then.
 */
export const POLL_MS = 30_000;
/** The exact timer never fires sooner than this after it is set, so nothing due can loop. */
export const MIN_REARM_MS = 1_000;

/**
 * Sends reminders, escalations and break-glass review chases as they fall due: an exact timer
 * for the next one, re-armed after every pass and every committed change here, and a poll as a
 * safety net. Runs on the leader; what it sends is recorded in the database in the change that
 * queues it, so a restart, a second process on SQLite or a change of leader sends nothing twice.
 */
export class FollowUpJob {
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private arming = false;
  private stopped = true;
  private unsubscribe?: () => void;

  constructor(private readonly deps: { core: Core; logger: Logger }) {}

  /** Catches up at once on what fell due while nobody led, then follows the timer. */
  async start(): Promise<void> {
    this.stopped = false;
    // Under load a change commits with every request: when the next one is due is read again at
    // most every MIN_REARM_MS, which the timer waits at least anyway.
    const rearm = throttle(() => {
      if (!this.running) void this.arm();
    }, MIN_REARM_MS);
    const unsubscribe = this.deps.core.onCommit(rearm);
    this.unsubscribe = () => {
      unsubscribe();
      rearm.cancel();
    };
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = null;
    await this.running;
  }

  /** One pass; calls during a pass add one more pass after it. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
        await this.arm();
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const sent = await this.deps.core.sendDueFollowUps();
      if (sent.reminded + sent.escalated + sent.overdueReviews > 0) {
        this.deps.logger.info('follow-ups sent', { ...sent });
      }
    } catch (err) {
      this.deps.logger.error('could not send follow-ups; trying again later', {
        error: describeError(err),
      });
    }
  }

  /** Sets the timer for the next follow-up, or the poll, whichever comes first. */
  private async arm(): Promise<void> {
    if (this.stopped || this.arming) return;
    this.arming = true;
    try {
      const now = this.deps.core.now();
      let next = now + POLL_MS;
      try {
        const due = await this.deps.core.nextFollowUpAt();
        if (due !== null) next = Math.min(next, Math.max(due, now + MIN_REARM_MS));
      } catch (err) {
        this.deps.logger.warn('could not find the next follow-up; polling', {
          error: describeError(err),
        });
      }
      if (
        this.stopped ||
        (this.timer !== undefined && this.timerAt !== null && this.timerAt <= next)
      )
        return;
      clearTimeout(this.timer);
      this.timerAt = next;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.timerAt = null;
        void this.run();
      }, next - now);
      this.timer.unref();
    } finally {
      this.arming = false;
    }
  }
}
