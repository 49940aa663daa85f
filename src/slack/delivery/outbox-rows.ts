import { and, asc, eq, gt, lte, sql } from 'drizzle-orm';
import { appendAudit } from '../../core/audit';
import { notificationSchema, type Notification } from '../../core/notifications';
import { inTransaction, type Db } from '../../store/db';
import { outbox } from '../../store/schema';

export type OutboxRow = typeof outbox.$inferSelect;

/**
 * Written with a literal, like the WHERE of the partial indexes `outbox_due` and
 * `outbox_subject_pending`: SQLite cannot prove a bound parameter matches them.
 */
const pending = sql`${outbox.status} = 'pending'`;

/**
 * The oldest pending row of each subject, where that row is due. A subject whose oldest row
 * waits (a retry later, or another worker's lease) is skipped as a whole, so rows of a subject
 * go out strictly in order.
 */
export function dueHeads(db: Db, now: number, limit: number): OutboxRow[] {
  return db
    .select()
    .from(outbox)
    .where(
      and(
        pending,
        lte(outbox.nextAttemptAt, now),
        sql`${outbox.id} = (select min(p.id) from outbox p where p.subject = ${outbox.subject} and p.status = 'pending')`,
      ),
    )
    .orderBy(asc(outbox.nextAttemptAt), asc(outbox.id))
    .limit(limit)
    .all();
}

/**
 * Takes a row for one try by pushing its next attempt past the lease. Only one caller wins
 * (another dispatcher, or a second deliverDue of this one, sees it as not due); a worker that dies
 * mid-try leaves the row to be retried once the lease runs out.
 */
export function claim(db: Db, row: OutboxRow, now: number, leaseMs: number): boolean {
  return (
    db
      .update(outbox)
      .set({ nextAttemptAt: now + leaseMs })
      .where(
        and(eq(outbox.id, row.id), eq(outbox.status, 'pending'), lte(outbox.nextAttemptAt, now)),
      )
      .run().changes === 1
  );
}

/** The largest pending id of a subject right now: a render from current state covers all up to it. */
export function lastPendingId(db: Db, subject: string): number {
  const found = db
    .select({ id: sql<number>`max(${outbox.id})` })
    .from(outbox)
    .where(and(eq(outbox.subject, subject), pending))
    .get();
  return found?.id ?? 0;
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

export function parse(row: OutboxRow): Notification | undefined {
  try {
    const result = notificationSchema.safeParse(JSON.parse(row.payload));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Slack accepted the row: it is sent, and so are later rows of the same subject and topic up to
 * `coveredUpTo`, whose change the same render already showed.
 */
export function markSent(db: Db, row: OutboxRow, now: number, coveredUpTo = row.id): void {
  inTransaction(db, () => {
    db.update(outbox)
      .set({
        status: 'sent',
        sentAt: now,
        attempts: row.attempts + 1,
        lastError: null,
        payload: restingPayload(row),
      })
      .where(and(eq(outbox.id, row.id), eq(outbox.status, 'pending')))
      .run();
    if (coveredUpTo > row.id) {
      db.update(outbox)
        .set({ status: 'sent', sentAt: now })
        .where(
          and(
            eq(outbox.subject, row.subject),
            eq(outbox.topic, row.topic),
            pending,
            gt(outbox.id, row.id),
            lte(outbox.id, coveredUpTo),
          ),
        )
        .run();
    }
  });
}

/** Schedules another try at `nextAttemptAt`; `attempts` counts the tries that failed. */
export function markRetry(
  db: Db,
  row: OutboxRow,
  attempts: number,
  nextAttemptAt: number,
  error: string,
): void {
  db.update(outbox)
    .set({ attempts, nextAttemptAt, lastError: error })
    .where(and(eq(outbox.id, row.id), eq(outbox.status, 'pending')))
    .run();
}

/** Gives up on a row, dropping any secret it carried, and says so in the audit log. */
export function markDead(db: Db, row: OutboxRow, now: number, attempts: number, error: string) {
  const notification = parse(row);
  inTransaction(db, () => {
    const changed = db
      .update(outbox)
      .set({ status: 'dead', attempts, lastError: error, payload: restingPayload(row) })
      .where(and(eq(outbox.id, row.id), eq(outbox.status, 'pending')))
      .run().changes;
    if (changed === 0) return;
    appendAudit(db, now, {
      actor: 'hallpass',
      action: 'notification.failed',
      requestId: notification && 'requestId' in notification ? notification.requestId : null,
      grantId: notification && 'grantId' in notification ? (notification.grantId ?? null) : null,
      details: { topic: row.topic, key: row.key, attempts, error },
    });
  });
}
