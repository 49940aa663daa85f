import type { AuditRow, Queries } from '../store';

/** The exported columns, in order: every field of an audit event. */
export const EXPORT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'request_id',
  'grant_id',
  'details',
  'prev_hash',
  'hash',
] as const;

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Half-open time range; a missing end is open. */
export interface ExportRange {
  since?: number;
  until?: number;
}

/**
 * The events in `range`, oldest first, a page at a time (never all in memory). Order is by
 * `seq`, the chain's own order.
 */
export async function* auditEvents(q: Queries, range: ExportRange): AsyncIterable<AuditRow> {
  const pages = q.audit.between(
    range.since ?? Number.MIN_SAFE_INTEGER,
    range.until ?? Number.MAX_SAFE_INTEGER,
  );
  for await (const page of pages) yield* page;
}

/** RFC 4180: a field with a comma, a quote, CR or LF is quoted, and its quotes doubled. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 asks (spreadsheets expect it). */
export function csvRecord(values: readonly (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

function values(row: AuditRow): (string | number | null)[] {
  return [
    row.seq,
    new Date(row.at).toISOString(),
    row.actor,
    row.action,
    row.requestId,
    row.grantId,
    row.details,
    row.prevHash,
    row.hash,
  ];
}

/**
 * How each format writes its header and rows. JSONL keeps `details` as a JSON object (it was
 * stored as canonical JSON, so re-serialising it with sorted keys gives back the hashed text).
 */
export const FORMATTERS: Record<ExportFormat, { header: string; row(row: AuditRow): string }> = {
  csv: {
    header: csvRecord(EXPORT_COLUMNS),
    row: (row) => csvRecord(values(row)),
  },
  jsonl: {
    header: '',
    row: (row) => {
      const record: Record<string, unknown> = {};
      const vals = values(row);
      EXPORT_COLUMNS.forEach((column, i) => {
        record[column] = column === 'details' ? JSON.parse(row.details) : vals[i];
      });
      return `${JSON.stringify(record)}\n`;
    },
  },
};
