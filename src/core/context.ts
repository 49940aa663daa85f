import type { Config } from '../config/schema';
import { inTransaction, type Db } from '../store/db';
import type { approvals, grants, requests } from '../store/schema';
import { appendAudit, type AuditInput, type AuditRow } from './audit';
import type { Clock } from './clock';
import { enqueue } from './outbox';
import type { Notification } from './notifications';
import type { Policy } from './policy';

export type RequestRow = typeof requests.$inferSelect;
export type GrantRow = typeof grants.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;

/** What every rule needs: the store, the time and the policy. */
export interface CoreContext {
  db: Db;
  clock: Clock;
  policy: Policy;
  config: Config;
  /** Called after every committed change, so jobs can wake up (deliver, reschedule timers). */
  onCommit: Set<() => void>;
}

/** One state change: its rows, its audit event and its notifications commit together or not at all. */
export interface Change {
  now: number;
  audit(input: AuditInput): AuditRow;
  notify(key: string, notification: Notification): void;
}

export function change<T>(ctx: CoreContext, fn: (c: Change) => T): T {
  const result = inTransaction(ctx.db, () => {
    const now = ctx.clock.now();
    return fn({
      now,
      audit: (input) => appendAudit(ctx.db, now, input),
      notify: (key, notification) => enqueue(ctx.db, now, key, notification),
    });
  });
  for (const listener of ctx.onCommit) listener();
  return result;
}
