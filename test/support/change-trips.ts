import pg from 'pg';
import { RoundTripText } from './round-trip-text';

/** The round trips a test has seen on PostgreSQL's change connections. */
export interface ChangeTrips {
  /** The statements of each round trip, in the order sent (as RoundTripText reads them). */
  readonly sent: string[];
  /** The text of each statement sent on the other connections (the read pool), in order. */
  readonly pooled: string[];
  clear(): void;
  /** Puts the driver's own `query` back; call it in afterAll. */
  restore(): void;
}

/**
 * Notes every round trip on the connections that take the change lock, where a replica's changes
 * take turns: how many a change makes there bounds how many the replica records a second. What
 * goes to the other connections is noted apart.
 */
export function watchChangeTrips(): ChangeTrips {
  const sent: string[] = [];
  const pooled: string[] = [];
  const realQuery = pg.Client.prototype.query;
  const changeConnections = new WeakSet<object>();
  const readers = new WeakMap<object, RoundTripText>();
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string };
    let reader = readers.get(this);
    if (!reader) readers.set(this, (reader = new RoundTripText()));
    const text = reader.read(typeof config === 'string' ? config : (config?.text ?? ''));
    if (text.includes('pg_try_advisory_xact_lock')) changeConnections.add(this);
    (changeConnections.has(this) ? sent : pooled).push(text);
    return (realQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof realQuery;
  return {
    sent,
    pooled,
    clear: () => {
      sent.splice(0);
      pooled.splice(0);
    },
    restore: () => {
      pg.Client.prototype.query = realQuery;
    },
  };
}
