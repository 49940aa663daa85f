import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import type { Store } from '../src/store';
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

/** Where the queue is: a fresh, migrated, empty database of one store. */
export interface OutboxStore {
  bench: string;
  fresh(): Promise<{ store: Store; close(): Promise<void>; settle?(): Promise<void> }>;
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
  db: { store: Store; close(): Promise<void>; settle?(): Promise<void> };
  core: Core;
  times: number[];
}

/**
 * A Slack outage: `size` DMs queued for 100 people, and each person's first DM failed, so it
 * waits for its next try with the rest of their DMs behind it. Nothing is due: every claim the
 * dispatcher makes meanwhile (each poll, each change that kicks it) should find that out in about
 * the same time however much is waiting.
 */
async function outage(on: OutboxStore, size: number): Promise<Waiting> {
  const db = await on.fresh();
  const core = new Core({
    store: db.store,
    clock: new ManualClock(NOW),
    config: CONFIG,
    directory: new StaticDirectory(),
  });
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
    for (let i = 0; i < options.claims; i++) {
      for (const w of waiting) {
        let claimed = -1;
        w.times.push(
          await timedAsync(async () => {
            claimed = (await w.core.outbox.claim(LEASE_MS, ROUND)).length;
          }),
        );
        if (claimed !== 0) throw new Error(`a claim took ${claimed} rows while every head waits`);
      }
    }
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
