import { buildDigest } from '../src/audit/digest';
import { auditEvents, FORMATTERS } from '../src/audit/export';
import { parseConfig } from '../src/config/load';
import { median, timed } from './measure';
import { fmt, type Row } from './report';
import { seedAudit, seedGrants, template, tempDb } from './seed';

const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 23, 9);
const WEEK = { start: END - 7 * DAY, end: END };

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

/** 1,000,000 events over `spanDays` ending at the digest's end, and 5,000 grants in its week. */
function seeded(events: number, spanDays: number) {
  return template((db) => {
    seedAudit(db, events, END - spanDays * DAY, END);
    seedGrants(db, {
      count: 5_000,
      now: END - DAY,
      expiresAt: (i) => END - 3 * DAY + i * 60_000,
      warned: () => true,
    });
  });
}

/** The week's events read once, nothing computed: what any digest must at least pay. */
function readWeek(file: string): number {
  const { db, cleanup } = tempDb(file);
  try {
    const rows = db.$client
      .prepare(
        'SELECT seq, at, actor, action, request_id, grant_id, details, prev_hash, hash FROM audit_events WHERE at >= ? AND at < ?',
      )
      .raw();
    return timed(() => {
      for (const row of rows.iterate(WEEK.start, WEEK.end)) void row;
    });
  } finally {
    cleanup();
  }
}

function digestOnce(file: string): number {
  const { db, cleanup } = tempDb(file);
  try {
    return timed(() => buildDigest(db, CONFIG, WEEK, END));
  } finally {
    cleanup();
  }
}

export async function digestBench(options: { events: number; rounds: number }): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, spanDays] of [
    ['spread over a year', 365],
    ['all inside the digest week', 7],
  ] as const) {
    const seed = seeded(options.events, spanDays);
    try {
      const values: number[] = [];
      const floors: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        values.push(digestOnce(seed.file));
        floors.push(readWeek(seed.file));
      }
      const value = median(values);
      const floor = median(floors);
      rows.push({
        bench: 'digest',
        figure: `weekly digest, ${fmt(options.events)}-event database, events ${label}`,
        value: `${fmt(value)} ms`,
        floor: `${fmt(floor)} ms (reading the week's events once)`,
        ratio: `${fmt(value / floor, 1)}×`,
        target: '< 1 s',
        met: value < 1000,
      });
      if (spanDays === 365) rows.push(exportRow(seed.file, options.events));
    } finally {
      seed.cleanup();
    }
  }
  return rows;
}

/** CSV export of every event against reading the same rows without formatting them. */
function exportRow(file: string, events: number): Row {
  const { db, cleanup } = tempDb(file);
  try {
    let bytes = 0;
    const exportMs = timed(() => {
      bytes += FORMATTERS.csv.header.length;
      for (const row of auditEvents(db, {})) bytes += FORMATTERS.csv.row(row).length;
    });
    const readMs = timed(() => {
      for (const row of auditEvents(db, {})) void row;
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
    cleanup();
  }
}
