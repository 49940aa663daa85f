import type { Logger } from '../../log';
import { logFailure } from '../listeners/errors';

/**
 * People whose Home a delivery asked to be drawn again, sorted at the dispatcher's next round by
 * whether they ever opened it: a Home nobody opened is drawn when it first is (app_home_opened),
 * and publishing it on every change would spend a Slack call, and the person's share of Slack's
 * rate limit, each time on a tab nobody looks at. One read sorts everyone a round's deliveries
 * asked about, where a read for each would cost every Approve click a statement of its own.
 */
export class HomeAsks {
  private asked = new Set<string>();
  /** Asked, and being sorted now. */
  private sorting = 0;

  constructor(
    private readonly opened: (userIds: readonly string[]) => Promise<string[]>,
    private readonly logger: Logger,
  ) {}

  ask(userIds: readonly string[]): void {
    for (const userId of userIds) this.asked.add(userId);
  }

  /** Asked and not yet sorted, including those being sorted. */
  get unfinished(): number {
    return this.asked.size + this.sorting;
  }

  /** Those asked about since the last call who opened Home; all of them when that cannot be told. */
  async takeOpened(): Promise<string[]> {
    if (this.asked.size === 0) return [];
    const userIds = [...this.asked];
    this.asked = new Set();
    this.sorting += userIds.length;
    try {
      const opened = new Set(await this.opened(userIds));
      return userIds.filter((userId) => opened.has(userId));
    } catch (err) {
      // When it cannot be told, drawing a Home once too often is the lesser harm.
      logFailure(err, this.logger, 'tell whether the Home tab was opened');
      return userIds;
    } finally {
      this.sorting -= userIds.length;
    }
  }
}
