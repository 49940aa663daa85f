import type { OutboxRow } from '../store/rows';
import { change, type CoreContext } from './context';
import { notificationSchema, type Notification } from './notifications';

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

/** The outbox as the delivery side works it: claim, then mark each row sent, retried or dead. */
export class OutboxBook {
  constructor(private readonly ctx: CoreContext) {}

  /** Takes up to `limit` due rows (the oldest of each subject) for one try each, leased. */
  claim(leaseMs: number, limit: number): Promise<OutboxRow[]> {
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

  /** The largest pending id of a subject right now: a render from current state covers all up to it. */
  lastPendingId(subject: string): Promise<number> {
    return this.ctx.store.outbox.lastPendingId(subject);
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
   * `coveredUpTo` were shown by the same render. One transaction for all of them.
   */
  sent(accepted: readonly { row: OutboxRow; coveredUpTo: number }[]): Promise<void> {
    return this.ctx.store.outbox.markSent(
      accepted.map(({ row, coveredUpTo }) => ({
        row,
        restingPayload: restingPayload(row),
        coveredUpTo,
      })),
      this.ctx.clock.now(),
    );
  }

  /** Schedules another try at `nextAttemptAt`; `attempts` counts the tries that failed. */
  retry(row: OutboxRow, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    return this.ctx.store.outbox.markRetry(row, attempts, nextAttemptAt, error);
  }

  /** Gives up on a row, dropping any secret it carried, and says so in the audit log. */
  dead(row: OutboxRow, attempts: number, error: string): Promise<void> {
    const notification = parseNotification(row);
    return change(this.ctx, async (c) => {
      const changed = await c.tx.outbox.markDead(row.id, attempts, error, restingPayload(row));
      if (!changed) return;
      c.audit({
        actor: 'hallpass',
        action: 'notification.failed',
        requestId: notification && 'requestId' in notification ? notification.requestId : null,
        grantId: notification && 'grantId' in notification ? (notification.grantId ?? null) : null,
        details: { topic: row.topic, key: row.key, attempts, error },
      });
    });
  }
}
