import type { ClaimedOutboxRow } from '../store';
import type { OutboxRow } from '../store/rows';
import { change, type CoreContext } from './context';
import { notificationSchema, type Notification } from './notifications';

/** A row Slack accepted, with the end of the lease its worker holds it with. */
export interface Accepted {
  row: OutboxRow;
  /** The end of the lease its worker claimed or last held the row with. */
  leasedUntil: number;
  /** The largest id of its subject and topic the same render showed. */
  coveredUpTo: number;
}

/**
 * What stays in the database once a row is done: the notification without secrets, so sealed
 * credentials do not outlive their delivery.
 */
export function restingPayload(row: OutboxRow): string {
  if (row.topic !== 'credentials') return row.payload;
  try {
    const value: unknown = JSON.parse(row.payload);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return '{}';
    const rest: Record<string, unknown> = { ...value };
    delete rest.sealed;
    return JSON.stringify(rest);
  } catch {
    return '{}';
  }
}

export function parseNotification(row: OutboxRow): Notification | undefined {
  try {
    const result = notificationSchema.safeParse(JSON.parse(row.payload));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The outbox as the delivery side works it: claim, then mark each row sent, retried or dead. Each
 * mark names the end of the lease its worker holds the row with, and takes effect only while the
 * row still has that lease: false when another process has claimed it since (or finished it).
 */
export class OutboxBook {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * This process's changes waiting for the database now. The delivery loop gives way while many
   * do: what a burst asks for is recorded first, and its messages follow.
   */
  changesWaiting(): number {
    return this.ctx.store.changeQueue().waiting;
  }

  /** Takes up to `limit` due rows (the oldest of each subject) for one try each, leased. */
  claim(leaseMs: number, limit: number): Promise<ClaimedOutboxRow[]> {
    return this.ctx.store.outbox.claimHeads(this.ctx.clock.now(), leaseMs, limit);
  }

  /**
   * Holds a claimed row, whose lease ends at `from`, for another `leaseMs` from now: its delivery
   * is still under way. The new end, or undefined when another process holds the row by now.
   */
  async holdLease(id: number, from: number, leaseMs: number): Promise<number | undefined> {
    const until = this.ctx.clock.now() + leaseMs;
    return (await this.ctx.store.outbox.extendLease(id, from, until)) ? until : undefined;
  }

  /**
   * The next `limit` rows queued after `row` for its subject, oldest first: each goes out after
   * it, so a delivery may leave to them what they will show anyway.
   */
  async queuedAfter(row: OutboxRow, limit: number): Promise<Notification[]> {
    const later = await this.ctx.store.outbox.pendingAfter(row.subject, row.id, limit);
    return later.flatMap((r) => parseNotification(r) ?? []);
  }

  /**
   * Slack accepted each row; for each, the later rows of its subject and topic up to its
   * `coveredUpTo` were shown by the same render. One transaction for all of them; for each row,
   * whether it was still held.
   */
  sent(accepted: readonly Accepted[]): Promise<boolean[]> {
    return this.ctx.store.outbox.markSent(
      accepted.map(({ row, leasedUntil, coveredUpTo }) => ({
        row,
        leasedUntil,
        restingPayload: restingPayload(row),
        coveredUpTo,
      })),
      this.ctx.clock.now(),
    );
  }

  /** Schedules another try at `nextAttemptAt`; `attempts` counts the tries that failed. */
  retry(
    row: OutboxRow,
    leasedUntil: number,
    attempts: number,
    nextAttemptAt: number,
    error: string,
  ): Promise<boolean> {
    return this.ctx.store.outbox.markRetry(row, leasedUntil, attempts, nextAttemptAt, error);
  }

  /**
   * Gives up on a row, dropping any secret it carried, and says so in the audit log. Only while
   * the worker still holds the row: else a failure would be audited for a row another worker is
   * delivering.
   */
  dead(row: OutboxRow, leasedUntil: number, attempts: number, error: string): Promise<boolean> {
    const notification = parseNotification(row);
    return change(this.ctx, async (c) => {
      const resting = restingPayload(row);
      const changed = await c.tx.outbox.markDead(row.id, leasedUntil, attempts, error, resting);
      if (!changed) return false;
      c.audit({
        actor: 'hallpass',
        action: 'notification.failed',
        requestId: notification && 'requestId' in notification ? notification.requestId : null,
        grantId: notification && 'grantId' in notification ? (notification.grantId ?? null) : null,
        details: { topic: row.topic, key: row.key, attempts, error },
      });
      return true;
    });
  }
}
