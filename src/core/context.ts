import type { Config } from '../config/schema';
import type { ChainHead, NewOutboxRow, Queries, Store } from '../store';
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
 * all. Audit events are chained as the change writes them, before the commit, after the chain
 * head it read under the change's lock (nobody else appends meanwhile).
 */
export interface Change {
  now: number;
  /** The change's own transaction: read what it writes, write inside it. */
  tx: Queries;
  audit(input: AuditInput): void;
  notify(key: string, notification: Notification): void;
  /**
   * Queues a notification keyed by the audit event recorded last: `keyOf` is given the seq that
   * event gets when the change writes it.
   */
  notifyForEvent(keyOf: (seq: number) => string, notification: Notification): void;
}

/** A notification as queued, keyed now or by the audit event it follows. */
interface Queued {
  key: string | { event: number; keyOf: (seq: number) => string };
  notification: Notification;
}

class Recorder implements Change {
  private readonly inputs: AuditInput[] = [];
  private readonly queued: Queued[] = [];

  constructor(
    readonly tx: Queries,
    readonly now: number,
    private readonly chain: ChainHead,
  ) {}

  audit(input: AuditInput): void {
    this.inputs.push(input);
  }

  notify(key: string, notification: Notification): void {
    this.queued.push({ key, notification });
  }

  notifyForEvent(keyOf: (seq: number) => string, notification: Notification): void {
    if (this.inputs.length === 0) throw new Error('notifyForEvent follows an audit event');
    this.queued.push({ key: { event: this.inputs.length - 1, keyOf }, notification });
  }

  /** Chains the events after the head, writes them and the notifications, and gives the events. */
  async flush(): Promise<AuditRow[]> {
    const events: AuditRow[] = [];
    let head = this.inputs.length > 0 ? await this.chain() : undefined;
    for (const input of this.inputs) {
      const row = chainEvent(head, this.now, input);
      head = { seq: row.seq, hash: row.hash };
      events.push(row);
    }
    // Once per key: the first notification queued under it.
    const rows = new Map<string, NewOutboxRow>();
    for (const { key, notification } of this.queued) {
      const resolved = typeof key === 'string' ? key : key.keyOf(events[key.event]!.seq);
      if (rows.has(resolved)) continue;
      rows.set(resolved, {
        key: resolved,
        subject: subjectOf(notification),
        topic: notification.topic,
        payload: JSON.stringify(notification),
      });
    }
    if (events.length > 0) await this.tx.audit.append(events);
    if (rows.size > 0) await this.tx.outbox.enqueue([...rows.values()], this.now);
    return events;
  }
}

/** Runs `fn` as one change; listeners hear of it once it committed. */
export async function change<T>(ctx: CoreContext, fn: (c: Change) => Promise<T>): Promise<T> {
  let events: readonly AuditRow[] = [];
  const result = await ctx.store.change(async (tx, chain) => {
    const recorder = new Recorder(tx, ctx.clock.now(), chain);
    const value = await fn(recorder);
    // A retried transaction builds a new recorder: only the attempt that commits is told.
    events = await recorder.flush();
    return value;
  });
  for (const listener of ctx.onCommit) listener(events);
  return result;
}
