import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import type { Store } from '../src/store';
import type { OutboxRow } from '../src/store/rows';
import { median, timedAsync } from './measure';
import { fmt, type Row } from './report';
import { tempDb } from './seed';

const NOW = Date.UTC(2026, 10, 2, 12);
const CONFIG = parseConfig(
  `
requests: { approverChannel: CBENCH }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value } }
resources:
  - { id: bench, name: Bench, provider: hook, maxDuration: 4h, approvers: { users: [ULEAD] } }
`,
  {},
);
/** How much waits behind the failing heads, in the full run and the quick one alike. */
export const OUTBOX_SIZES = [1_000, 10_000, 100_000];
/** People whose DMs queue up: each is a subject, delivered in order. */
const SUBJECTS = 100;
const ENQUEUE_CHUNK = 1_000;
/** The dispatcher's own claim: a round of 8, leased for 45 s (src/slack/delivery/dispatcher.ts). */
const ROUND = 8;
const LEASE_MS = 45_000;
/** How long Slack has been failing the heads: their next tries are this far away. */
const BACKOFF_MS = 60_000;

/** How many messages a burst of filings leaves due, in the full run and the quick one alike. */
export const BURST_SIZES = [1_000, 10_000, 100_000];
/** Delivered (and replaced) before a burst's claims are timed: the old versions they leave. */
const BURST_DELIVERED = 1_000;
/** How far the clock moves between two claims of a burst, as polls and kicks space them. */
const BURST_STEP_MS = 10;

interface OutboxDb {
  store: Store;
  close(): Promise<void>;
  /** Brings the database to rest as it would be in service, once the outage is queued. */
  settle?(): Promise<void>;
  /** Keeps the server from vacuuming the outbox (PostgreSQL): what the flow leaves stays. */
  holdVacuum?(): Promise<void>;
  /** Gives the planner the outbox as it is, as the server does between two vacuums. */
  analyze?(): Promise<void>;
}

/** Where the queue is: a fresh, migrated, empty database of one store. */
export interface OutboxStore {
  bench: string;
  fresh(): Promise<OutboxDb>;
}

const sqliteOutbox: OutboxStore = {
  bench: 'outbox',
  async fresh() {
    const db = tempDb();
    return { store: db.store, close: db.cleanup };
  },
};

interface Waiting {
  size: number;
  db: OutboxDb;
  core: Core;
  times: number[];
}

function coreOn(store: Store, clock: ManualClock): Core {
  return new Core({ store, clock, config: CONFIG, directory: new StaticDirectory() });
}

/**
 * A Slack outage: `size` DMs queued for 100 people, and each person's first DM failed, so it
 * waits for its next try with the rest of their DMs behind it. Nothing is due: every claim the
 * dispatcher makes meanwhile (each poll, each change that kicks it) should find that out in about
 * the same time however much is waiting.
 */
async function outage(on: OutboxStore, size: number): Promise<Waiting> {
  const db = await on.fresh();
  const core = coreOn(db.store, new ManualClock(NOW));
  for (let from = 0; from < size; from += ENQUEUE_CHUNK) {
    const rows = Array.from({ length: Math.min(ENQUEUE_CHUNK, size - from) }, (_, i) => ({
      key: `dm:${from + i}`,
      subject: `user:U${(from + i) % SUBJECTS}`,
      topic: 'requester_dm',
      payload: '{"topic":"requester_dm"}',
    }));
    await db.store.change((tx) => tx.outbox.enqueue(rows, NOW - 1_000));
  }
  for (const head of await core.outbox.claim(LEASE_MS, SUBJECTS))
    await core.outbox.retry(head, head.nextAttemptAt, 1, NOW + BACKOFF_MS, 'slack: http_503');
  await db.settle?.();
  return { size, db, core, times: [] };
}

/**
 * Claims from each queue in turn, `rounds` times, timing each claim into its queue's `times`;
 * `after` then sees what the claim took, untimed.
 */
async function claimInTurn<Q extends { times: number[] }>(
  queues: readonly Q[],
  rounds: number,
  claim: (queue: Q) => Promise<OutboxRow[]>,
  after: (queue: Q, claimed: OutboxRow[]) => Promise<void> | void,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    for (const queue of queues) {
      let claimed: OutboxRow[] = [];
      queue.times.push(
        await timedAsync(async () => {
          claimed = await claim(queue);
        }),
      );
      await after(queue, claimed);
    }
  }
}

/**
 * The dispatcher's claim during a Slack outage, by how much waits behind the failing heads:
 * every size claimed in turn, `claims` times (medians); the floor is the smallest size, so the
 * ratio is how the cost grows.
 */
export async function outboxBench(
  options: { sizes: number[]; claims: number },
  on: OutboxStore = sqliteOutbox,
): Promise<Row[]> {
  const waiting: Waiting[] = [];
  try {
    for (const size of options.sizes) waiting.push(await outage(on, size));
    await claimInTurn(
      waiting,
      options.claims,
      (w) => w.core.outbox.claim(LEASE_MS, ROUND),
      (_, claimed) => {
        if (claimed.length !== 0)
          throw new Error(`a claim took ${claimed.length} rows while every head waits`);
      },
    );
    const smallest = waiting[0]!;
    const base = median(smallest.times);
    return waiting.map((w): Row => {
      const value = median(w.times);
      return {
        bench: on.bench,
        figure: `outbox claim (a round of ${ROUND}) during a Slack outage: ${fmt(w.size)} DMs queued for ${SUBJECTS} people, each person's first one waiting for its next try (median of ${options.claims} claims, sizes in turn)`,
        value: `${fmt(value, 2)} ms`,
        floor: `${fmt(base, 2)} ms (the same with ${fmt(smallest.size)} queued)`,
        ratio: `${fmt(value / base, 1)}× for ${fmt(w.size / smallest.size)}× the queue`,
        target: '—',
        met: null,
      };
    });
  } finally {
    for (const w of waiting) await w.db.close();
  }
}

/** A burst of filings' messages being delivered: `next` numbers the rows, two per request. */
class Burst {
  private next = 0;
  readonly times: number[] = [];

  private constructor(
    readonly size: number,
    readonly db: OutboxDb,
    private readonly clock: ManualClock,
    private readonly core: Core,
  ) {}

  /**
   * `size` messages due, then `BURST_DELIVERED` of them delivered as the dispatcher delivers them
   * (claimed a round at a time, marked sent), each replaced by a new one as filings go on coming,
   * the clock moving on between rounds. Nothing vacuums the outbox meanwhile; it is analysed
   * after, so the plans are made knowing its rows.
   */
  static async queued(on: OutboxStore, size: number): Promise<Burst> {
    const db = await on.fresh();
    await db.holdVacuum?.();
    const clock = new ManualClock(NOW);
    const burst = new Burst(size, db, clock, coreOn(db.store, clock));
    await burst.enqueue(size);
    let delivered = 0;
    while (delivered < BURST_DELIVERED) delivered += await burst.deliver(await burst.claim());
    await db.analyze?.();
    return burst;
  }

  claim(): Promise<OutboxRow[]> {
    return this.core.outbox.claim(LEASE_MS, ROUND);
  }

  /** Marks `rows` sent and queues as many new ones; how many were sent. */
  async deliver(rows: readonly OutboxRow[]): Promise<number> {
    if (rows.length === 0) throw new Error('a claim found nothing due in a burst');
    await this.core.outbox.sent(
      rows.map((row) => ({ row, leasedUntil: row.nextAttemptAt, coveredUpTo: row.id })),
    );
    await this.enqueue(rows.length);
    this.clock.advance(BURST_STEP_MS);
    return rows.length;
  }

  private async enqueue(count: number): Promise<void> {
    for (let left = count; left > 0; left -= ENQUEUE_CHUNK) {
      const rows = Array.from({ length: Math.min(ENQUEUE_CHUNK, left) }, () => {
        const n = this.next++;
        const request = `req_b${Math.floor(n / 2)}`;
        return {
          key: `${n % 2 ? 'dm' : 'approvers'}:${request}`,
          subject: request,
          topic: n % 2 ? 'requester_dm' : 'approver_message',
          payload: '{}',
        };
      });
      await this.db.store.change((tx) => tx.outbox.enqueue(rows, this.clock.now()));
    }
  }
}

/**
 * The dispatcher's claim during a burst, by how many messages are due: every size claimed in
 * turn, `claims` times (medians), each claim's rows then delivered and replaced, untimed; the
 * floor is the smallest size, so the ratio is how the cost grows.
 */
export async function outboxBurstBench(
  options: { sizes: number[]; claims: number },
  on: OutboxStore = sqliteOutbox,
): Promise<Row[]> {
  const bursts: Burst[] = [];
  try {
    for (const size of options.sizes) bursts.push(await Burst.queued(on, size));
    await claimInTurn(
      bursts,
      options.claims,
      (burst) => burst.claim(),
      async (burst, claimed) => {
        await burst.deliver(claimed);
      },
    );
    const smallest = bursts[0]!;
    const base = median(smallest.times);
    return bursts.map((b): Row => {
      const value = median(b.times);
      return {
        bench: on.bench,
        figure: `outbox claim (a round of ${ROUND}) during a burst: ${fmt(b.size)} messages due, two per request, ${fmt(BURST_DELIVERED)} delivered and replaced since the last vacuum (median of ${options.claims} claims, sizes in turn)`,
        value: `${fmt(value, 2)} ms`,
        floor: `${fmt(base, 2)} ms (the same with ${fmt(smallest.size)} due)`,
        ratio: `${fmt(value / base, 1)}× for ${fmt(b.size / smallest.size)}× the messages due`,
        target: '—',
        met: null,
      };
    });
  } finally {
    for (const b of bursts) await b.db.close();
  }
}
