import type { Config } from '../config/schema';
import type { Queries, Store } from '../store';
import type { AuditRow } from '../store/rows';
import { chainEvent, type AuditInput } from './audit';
import type { Clock } from './clock';
import { subjectOf, type Notification } from './notifications';
import type { Policy } from './policy';
import type { ProviderPlaces, TargetResolver } from './terms';

export type { ApprovalRow, AuditRow, GrantRow, OutboxRow, RequestRow } from '../store/rows';

/** What every rule needs: the store, the time and the policy. */
export interface CoreContext {
  store: Store;
  clock: Clock;
  policy: Policy;
  config: Config;
  /** A resource's target as its provider resolves it, recorded on each grant at approval. */
  resolveTarget: TargetResolver;
  /**
   * Where each provider instance points today, recorded on each grant at approval and compared
   * with it before the grant is acted on; unknown (nothing recorded or compared) without it.
   */
  providerPlaces?: ProviderPlaces;
  /**
   * Called after every committed change with the audit events it recorded, so jobs can wake up
   * (deliver, reschedule timers) and metrics can count what happened.
   */
  onCommit: Set<(events: readonly AuditRow[]) => void>;
}

/**
 * One state change: its rows, its audit events and its notifications commit together or not at
 * all. Audit events are chained as they are recorded (the chain head was read under the change's
 * lock, so nobody else appends meanwhile) and written with the notifications before the commit.
 */
export interface Change {
  now: number;
  /** The change's own transaction: read what it writes, write inside it. */
  tx: Queries;
  audit(input: AuditInput): AuditRow;
  notify(key: string, notification: Notification): void;
}

class Recorder implements Change {
  readonly events: AuditRow[] = [];
  private readonly notifications = new Map<
    string,
    { key: string; subject: string; topic: string; payload: string }
  >();

  constructor(
    readonly tx: Queries,
    readonly now: number,
    private head: { seq: number; hash: string } | undefined,
  ) {}

  audit(input: AuditInput): AuditRow {
    const row = chainEvent(this.head, this.now, input);
    this.head = { seq: row.seq, hash: row.hash };
    this.events.push(row);
    return row;
  }

  notify(key: string, notification: Notification): void {
    if (this.notifications.has(key)) return;
    this.notifications.set(key, {
      key,
      subject: subjectOf(notification),
      topic: notification.topic,
      payload: JSON.stringify(notification),
    });
  }

  async flush(): Promise<void> {
    if (this.events.length > 0) await this.tx.audit.append(this.events);
    if (this.notifications.size > 0)
      await this.tx.outbox.enqueue([...this.notifications.values()], this.now);
  }
}

/** Runs `fn` as one change; listeners hear of it once it committed. */
export async function change<T>(ctx: CoreContext, fn: (c: Change) => Promise<T>): Promise<T> {
  let events: readonly AuditRow[] = [];
  const result = await ctx.store.change(async (tx, chain) => {
    const recorder = new Recorder(tx, ctx.clock.now(), chain);
    const value = await fn(recorder);
    await recorder.flush();
    // A retried transaction builds a new recorder: only the attempt that commits is told.
    events = recorder.events;
    return value;
  });
  for (const listener of ctx.onCommit) listener(events);
  return result;
}
