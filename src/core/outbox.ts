import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db';
import { subjectOf, type Notification } from './notifications';

const statements = new WeakMap<Db, Statement>();

/**
 * Queues a notification. Call inside the transaction of the change that caused it; a key that
 * was queued before is ignored, so a replayed change never notifies twice.
 */
export function enqueue(db: Db, now: number, key: string, notification: Notification): void {
  let insert = statements.get(db);
  if (!insert) {
    insert = db.$client.prepare(
      `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT(key) DO NOTHING`,
    );
    statements.set(db, insert);
  }
  insert.run(
    key,
    subjectOf(notification),
    notification.topic,
    JSON.stringify(notification),
    now,
    now,
  );
}
