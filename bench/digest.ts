import { buildDigest } from '../src/audit/digest';
import { auditEvents, FORMATTERS } from '../src/audit/export';
import { parseConfig } from '../src/config/load';
import { GENESIS_HASH } from '../src/chain/walk';
import type { Store } from '../src/store';
import { SqliteStore } from '../src/store/sqlite/store';
import { median, sideBySide, timed, timedAsync } from './measure';
import { fmt, type Row } from './report';
import { seedAudit, seedGrants, template, tempDb } from './seed';
import { BENCH_SEAL, VERIFY_STEP, verifyTemplate, watchPass } from './verified-head';

const DAY = 86_400_000;
export const END = Date.UTC(2026, 10, 23, 9);
export const WEEK = { start: END - 7 * DAY, end: END };

const CONFIG = parseConfig(
  `
timezone: Europe/Berlin
requests: { approverChannel: CBENCH }
digest: { channel: CAUDIT }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value } }
resources:
  - { id: auto, name: Auto, provider: hook, maxDuration: 4h, approvalsRequired: 0 }
`,
  {},
);

/**
 * `events` events over `spanDays` ending at the digest's end, and 5,000 grants in its week, in a
 * SQLite template file; with `verified`, the chain watch has verified every row (as the running
 * bot would have by then).
 */
export async function seededWeek(events: number, spanDays: number, verified: boolean) {
  const seed = await template((raw) => {
    seedAudit(raw, events, END - spanDays * DAY, END, { records: true });
    seedGrants(raw, {
      count: 5_000,
      now: END - DAY,
      expiresAt: (i) => END - 3 * DAY + i * 60_000,
      warned: () => true,
    });
  });
  if (verified) await verifyTemplate(seed.file, END);
  return seed;
}

/** The week's events read once, nothing computed: what any digest must at least pay. */
async function readWeek(file: string): Promise<number> {
  const { raw, cleanup } = tempDb(file);
  try {
    const rows = raw
      .prepare(
        'SELECT seq, at, actor, action, request_id, grant_id, details, prev_hash, hash FROM audit_events WHERE at >= ? AND at < ?',
      )
      .raw();
    return timed(() => {
      for (const row of rows.iterate(WEEK.start, WEEK.end)) void row;
    });
  } finally {
    await cleanup();
  }
}

/**
 * The digest as the bot builds it (its checkpoint seal given) on `store`: how long it took, and
 * how many rows its chain check walked.
 */
export async function timedDigest(store: Store): Promise<{ ms: number; checked: number }> {
  let checked = 0;
  const ms = await timedAsync(async () => {
    const digest = await buildDigest(store, CONFIG, WEEK, END, { seal: BENCH_SEAL });
    if (!digest.chain.intact) throw new Error('the seeded chain must be intact');
    checked = digest.chain.checked;
  });
  return { ms, checked };
}

/** Where the digest is measured: fresh copies of one seeded database. */
export interface DigestSide {
  bench: string;
  /** The digest on a fresh copy (`timedDigest`). */
  digest(): Promise<{ ms: number; checked: number }>;
  /** The floor, on a fresh copy: the week's events read once, nothing computed; in ms. */
  readWeek(): Promise<number>;
}

/** The embedded store: copies of the seeded file. */
function sqliteDigest(file: string): DigestSide {
  return {
    bench: 'digest',
    async digest() {
      const { store, cleanup } = tempDb(file);
      try {
        return await timedDigest(store);
      } finally {
        await cleanup();
      }
    },
    readWeek: () => readWeek(file),
  };
}

export const DIGEST_CASES = [
  { label: 'events spread over a year', spanDays: 365, verified: true, walked: 'none' },
  { label: 'events all inside the digest week', spanDays: 7, verified: true, walked: 'none' },
  {
    label: 'events all inside the digest week, no verified head yet',
    spanDays: 7,
    verified: false,
    walked: 'the week',
  },
] as const;

export type DigestCase = (typeof DIGEST_CASES)[number];

/**
 * The weekly digest against reading its week once (interleaved in a fixed order, the digest then
 * the read, medians). Where the chain watch verified the chain, the digest must walk no row.
 */
export async function digestRow(
  c: DigestCase,
  events: number,
  rounds: number,
  side: DigestSide,
): Promise<Row> {
  const values: number[] = [];
  const floors: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const { ms, checked } = await side.digest();
    if (c.walked === 'none' && checked !== 0)
      throw new Error(`the digest walked ${checked} rows, not none`);
    values.push(ms);
    floors.push(await side.readWeek());
  }
  const value = median(values);
  const floor = median(floors);
  return {
    bench: side.bench,
    figure: `weekly digest, ${fmt(events)}-event database, ${c.label} (rows walked: ${c.walked}; median of ${rounds})`,
    value: `${fmt(value)} ms`,
    floor: `${fmt(floor)} ms (reading the week's events once)`,
    ratio: `${fmt(value / floor, 2)}×`,
    target: '< 1 s',
    met: value < 1000,
  };
}

/**
 * The weekly digest on a database whose chain the chain watch verified (the digest walks no row)
 * and, for contrast, on one it never saw (the digest walks the week); the chain watch's catch-up
 * over the dense week against one walk of the same rows; and the CSV export.
 */
export async function digestBench(options: { events: number; rounds: number }): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of DIGEST_CASES) {
    const seed = await seededWeek(options.events, c.spanDays, c.verified);
    try {
      rows.push(await digestRow(c, options.events, options.rounds, sqliteDigest(seed.file)));
      if (c.spanDays === 365) rows.push(await exportRow(seed.file, options.events));
      if (!c.verified)
        rows.push(await watchRow(options.events, options.rounds, sqliteWatch(seed.file)));
    } finally {
      seed.cleanup();
    }
  }
  return rows;
}

/** Where the chain watch catches up: fresh copies of one seeded chain it never saw. */
export interface WatchSide {
  bench: string;
  /** A fresh copy, with the store Hallpass opens on it. */
  copy(): Promise<{ store: Store; cleanup(): Promise<void> }>;
  /** The floor: one walk of the same rows in order on one thread, on a fresh copy. */
  walk(): Promise<{ checked: number; ms: number }>;
}

/** The embedded store: copies of the seeded file; the walk on a read-only store with one worker. */
function sqliteWatch(file: string): WatchSide {
  return {
    bench: 'audit',
    copy: async () => tempDb(file),
    async walk() {
      const copy = tempDb(file);
      await copy.store.close();
      const inOrder = new SqliteStore(copy.file, { readonly: true, verify: { workers: 1 } });
      try {
        let checked = 0;
        const ms = await timedAsync(async () => {
          checked = (await inOrder.verifyChain({ seq: 0, hash: GENESIS_HASH })).checked;
        });
        return { checked, ms };
      } finally {
        await inOrder.close();
        await copy.cleanup();
      }
    },
  };
}

/**
 * The chain watch catching up on `events` rows it never saw, in its steps, against one walk of
 * the same rows in order on one thread (no steps, no checkpoint): alternating, fresh copies, on
 * the store `on` copies.
 */
export async function watchRow(events: number, rounds: number, on: WatchSide): Promise<Row> {
  const longest: number[] = [];
  const { value, floor } = await sideBySide(
    rounds,
    async () => {
      const { store, cleanup } = await on.copy();
      try {
        let checked = 0;
        const ms = await timedAsync(async () => {
          const pass = await watchPass(store, END);
          longest.push(pass.longestStepMs);
          checked = pass.checked;
        });
        if (checked !== events) throw new Error(`the watch verified ${checked} of ${events} rows`);
        return ms;
      } finally {
        await cleanup();
      }
    },
    async () => {
      const { checked, ms } = await on.walk();
      if (checked !== events) throw new Error('the walk must check every row');
      return ms;
    },
  );
  return {
    bench: on.bench,
    figure: `chain watch catching up on ${fmt(events)} new rows, ${fmt(VERIFY_STEP)} per step (median of ${rounds} alternating rounds)`,
    value: `${fmt(value)} ms (${fmt((events / value) * 1000)} rows/s), longest step ${fmt(median(longest))} ms`,
    floor: `${fmt(floor)} ms (one walk of the same rows in order, one thread)`,
    ratio: `${fmt((floor / value) * 100)}%`,
    target: '—',
    met: null,
  };
}

/** CSV export of every event against reading the same rows without formatting them. */
async function exportRow(file: string, events: number): Promise<Row> {
  const { store, cleanup } = tempDb(file);
  try {
    let bytes = 0;
    const exportMs = await timedAsync(async () => {
      bytes += FORMATTERS.csv.header.length;
      for await (const row of auditEvents(store, {})) bytes += FORMATTERS.csv.row(row).length;
    });
    const readMs = await timedAsync(async () => {
      for await (const row of auditEvents(store, {})) void row;
    });
    return {
      bench: 'audit',
      figure: `CSV export, ${fmt(events)} events (${fmt(bytes / 1e6)} MB)`,
      value: `${fmt((events / exportMs) * 1000)} events/s`,
      floor: `${fmt((events / readMs) * 1000)} rows/s (the same query, not formatted)`,
      ratio: `${fmt((readMs / exportMs) * 100)}%`,
      target: '—',
      met: null,
    };
  } finally {
    await cleanup();
  }
}
