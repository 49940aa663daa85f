import { buildDigest } from '../src/audit/digest';
import { auditEvents, FORMATTERS } from '../src/audit/export';
import { parseConfig } from '../src/config/load';
import { median, timed, timedAsync } from './measure';
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
  return template((raw) => {
    seedAudit(raw, events, END - spanDays * DAY, END);
    seedGrants(raw, {
      count: 5_000,
      now: END - DAY,
      expiresAt: (i) => END - 3 * DAY + i * 60_000,
      warned: () => true,
    });
  });
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

async function digestOnce(file: string): Promise<number> {
  const { store, cleanup } = tempDb(file);
  try {
    return await timedAsync(() => buildDigest(store, CONFIG, WEEK, END));
  } finally {
    await cleanup();
  }
}

export async function digestBench(options: { events: number; rounds: number }): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, spanDays] of [
    ['spread over a year', 365],
    ['all inside the digest week', 7],
  ] as const) {
    const seed = await seeded(options.events, spanDays);
    try {
      const values: number[] = [];
      const floors: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        values.push(await digestOnce(seed.file));
        floors.push(await readWeek(seed.file));
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
      if (spanDays === 365) rows.push(await exportRow(seed.file, options.events));
    } finally {
      seed.cleanup();
    }
  }
  return rows;
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
