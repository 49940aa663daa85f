import { schedule, type ScheduledTask } from 'node-cron';
import type { Core } from '../core';
import type { Directory } from '../core/directory';
import type { Logger } from '../log';
import { forEachLimited } from '../limit';
import { describeError } from './provider-call';

/** People looked up per run at most; `users.info` is Tier 4 (100+ a minute). */
const PER_RUN = 1_000;
/** Lookups at once: well inside Slack's rate for users.info. */
const CONCURRENCY = 2;

/**
 * The safety net under `user_change`: on `offboarding.schedule`, asks the directory afresh about
 * everyone who holds a grant or waits on a request, and offboards whoever was deactivated or
 * made a guest (an event Slack never delivered, or one lost while Hallpass was down); and about
 * everyone doubted, recording them active once the directory says so. A lookup
 * Slack cannot answer is skipped until the next run. Each run looks up at most PER_RUN people,
 * in user id order from where the last run stopped, so with more of them every one is still
 * looked up within a few runs.
 */
export class OffboardingCheck {
  private cron?: ScheduledTask;
  private running?: Promise<number>;
  /** The last user id the previous run looked up; empty to start from the first. */
  private after = '';

  constructor(private readonly deps: { core: Core; directory: Directory; logger: Logger }) {}

  start(): void {
    this.cron = schedule(this.deps.core.config.offboarding.schedule, () => void this.tick(), {
      name: 'hallpass-offboarding',
      noOverlap: true,
    });
  }

  async stop(): Promise<void> {
    await this.cron?.stop();
    this.cron = undefined;
    await this.running;
  }

  private async tick(): Promise<void> {
    try {
      await this.run();
    } catch (err) {
      this.deps.logger.error('offboarding check failed', { error: describeError(err) });
    }
  }

  /** One pass; resolves with how many people were offboarded. */
  run(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const { core, directory, logger } = this.deps;
    let offboarded = 0;
    const people = await core.peopleWithAccess(PER_RUN, this.after);
    this.after = people.length === PER_RUN ? people.at(-1)! : '';
    await forEachLimited(people, CONCURRENCY, async (userId) => {
      let status;
      try {
        status = await directory.statusOf(userId, { fresh: true });
      } catch (err) {
        logger.warn('could not check a person in the directory', {
          userId,
          error: describeError(err),
        });
        return;
      }
      // Active changes nothing, except for someone recorded as gone whose return Slack told and
      // the directory could not confirm then (doubted): recorded now, as it can.
      const done = await core.recordPersonStatus(userId, status, 'directory_check');
      if (done) {
        offboarded++;
        logger.warn('person offboarded by the directory check', { userId, status, ...done });
      }
    });
    return offboarded;
  }
}
