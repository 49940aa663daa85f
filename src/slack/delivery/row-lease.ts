import type { Core, OutboxRow } from '../../core';
import type { Clock } from '../../core/clock';
import { LeaseLost } from './failures';

/**
 * A worker's claim on one outbox row: the end of its lease, as claimed or last held, which the
 * write of the row's outcome must still find on the row (another process may have claimed it
 * since, while this one paused).
 */
export class RowLease {
  private heldFrom: number;
  private leasedUntil: number;
  // Once lost, every later call of the delivery is refused too, whoever caught the first refusal.
  private lost = false;

  constructor(
    private readonly row: OutboxRow,
    private readonly outbox: Core['outbox'],
    private readonly clock: Clock,
    private readonly leaseMs: number,
  ) {
    this.heldFrom = clock.now();
    this.leasedUntil = row.nextAttemptAt;
  }

  /** When the lease ends, as this worker last set it. */
  get until(): number {
    return this.leasedUntil;
  }

  /**
   * Before each Slack call of the row's delivery: once a third of the lease has gone by, the row
   * is held for another lease. A delivery makes one call per target (a channel and every admin),
   * each up to the call timeout; while it lives, another replica must not claim and send it again.
   * Throws LeaseLost when another process holds the row by now.
   */
  async keep(): Promise<void> {
    if (this.lost) throw new LeaseLost();
    const now = this.clock.now();
    if (now - this.heldFrom < this.leaseMs / 3) return;
    const until = await this.outbox.holdLease(this.row.id, this.leasedUntil, this.leaseMs);
    if (until === undefined) {
      this.lost = true;
      throw new LeaseLost();
    }
    this.heldFrom = now;
    this.leasedUntil = until;
  }
}
