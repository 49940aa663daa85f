import { escapeIdentifier, type Client } from 'pg';
import { z } from 'zod';
import type {
  ActivityDetails,
  ActivityReport,
  KeptObject,
  SessionActivity,
  StatementActivity,
} from '../types';
import { sqlState } from './admin-session';
import type { EndedSession } from './revoke-memo';
import { readStatement } from './statement-text';

/** What PostgreSQL recorded of the statements a role ran, or why it recorded none. */
export type StatementRecord =
  | { source: 'pg_stat_statements'; statements: StatementActivity[]; note?: string }
  | { source: 'pg_stat_activity'; note: string };

const MAX_LISTED = 50;
const SUMMARY_COMMANDS = 4;
const SUMMARY_TABLES = 3;
const HIDDEN_TEXT = '<insufficient privilege>';
const ENABLE = 'see "Recording activity" in docs/providers.md';

/** One pg_stat_statements row as JSON, whichever the extension's version (total_time before 1.8). */
const entrySchema = z.object({
  query: z.string().nullable(),
  calls: z.number(),
  rows: z.number(),
  total_exec_time: z.number().optional(),
  total_time: z.number().optional(),
  toplevel: z.boolean().optional(),
});

/** The role's sessions open right now, in every database. Needs pg_read_all_stats for the times. */
export async function openSessions(client: Client, roleOid: number): Promise<EndedSession[]> {
  const { rows } = await client.query<{
    pid: number;
    database: string | null;
    connected_at: Date | null;
    open_ms: number | null;
  }>(
    `SELECT pid, datname AS database, backend_start AS connected_at,
            extract(epoch FROM clock_timestamp() - backend_start)::float8 * 1000 AS open_ms
       FROM pg_stat_activity
      WHERE usesysid = $1 AND pid <> pg_backend_pid()`,
    [roleOid],
  );
  return rows.map((row) => ({
    pid: row.pid,
    database: row.database ?? '',
    ...(row.connected_at ? { connectedAt: row.connected_at.toISOString() } : {}),
    ...(row.open_ms === null ? {} : { openMs: Math.round(row.open_ms) }),
  }));
}

/**
 * The statements pg_stat_statements kept for the role, in every database: its view in the
 * database Hallpass connects to shows them all. Each grant has a role of its own, so every entry
 * of that role belongs to this grant. A missing or unloaded extension is a note, not a failure:
 * the revoke must go on.
 */
export async function recordedStatements(
  client: Client,
  roleOid: number,
): Promise<StatementRecord> {
  const installed = await client.query<{ schema: string | null; database: string }>(
    `SELECT current_database() AS database,
            (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_stat_statements') AS schema`,
  );
  const { schema, database: here } = installed.rows[0]!;
  if (schema === null) {
    return fallback(
      `pg_stat_statements is not installed in database "${here}", the one Hallpass connects to`,
    );
  }
  let entries: { database: string | null; entry: unknown }[];
  try {
    const result = await client.query<{ database: string | null; entry: unknown }>(
      `SELECT d.datname AS database, to_jsonb(s) AS entry
         FROM ${escapeIdentifier(schema)}.pg_stat_statements s
         LEFT JOIN pg_database d ON d.oid = s.dbid
        WHERE s.userid = $1`,
      [roleOid],
    );
    entries = result.rows;
  } catch (err) {
    const state = sqlState(err);
    if (state === undefined) throw err;
    if (state === '55000') {
      return fallback(
        'pg_stat_statements is installed but not loaded (it must be in shared_preload_libraries)',
      );
    }
    return fallback(`pg_stat_statements could not be read: ${(err as Error).message} [${state}]`);
  }
  const statements: StatementActivity[] = [];
  let hidden = false;
  for (const { database, entry } of entries) {
    const parsed = entrySchema.safeParse(entry);
    // Statements nested in functions (track = all) were not typed by the holder.
    if (!parsed.success || parsed.data.toplevel === false) continue;
    const row = parsed.data;
    hidden ||= row.query === HIDDEN_TEXT;
    const shape =
      row.query === null || row.query === HIDDEN_TEXT ? undefined : readStatement(row.query);
    statements.push({
      command: shape?.command ?? 'UNKNOWN',
      ...(shape?.text === undefined ? {} : { text: shape.text }),
      database: database ?? '',
      calls: row.calls,
      totalMs: Math.round((row.total_exec_time ?? row.total_time ?? 0) * 1000) / 1000,
      rows: row.rows,
      ...(shape && shape.tables.length > 0 ? { tables: shape.tables } : {}),
    });
  }
  statements.sort((a, b) => b.calls - a.calls || b.totalMs - a.totalMs);
  return {
    source: 'pg_stat_statements',
    statements,
    ...(hidden
      ? {
          note: 'the admin role may not read other roles’ statements (GRANT pg_read_all_stats to it): commands and tables are unknown',
        }
      : {}),
  };
}

function fallback(why: string): StatementRecord {
  return {
    source: 'pg_stat_activity',
    note: `${why}: statements were not recorded, only the sessions still open at revoke; ${ENABLE}`,
  };
}

/** The report for the revoke's audit event, with its one line for people. */
export function activityReport(
  record: StatementRecord,
  ended: EndedSession[],
  kept: KeptObject[],
): ActivityReport {
  const sessions: SessionActivity[] = ended.map(({ database, connectedAt, openMs }) => ({
    database,
    ...(connectedAt === undefined ? {} : { connectedAt }),
    ...(openMs === undefined ? {} : { openMs }),
  }));
  const details: ActivityDetails = { source: record.source };
  if (record.note) details.note = record.note;
  let summary: string;
  if (record.source === 'pg_stat_statements') {
    details.statements = record.statements.slice(0, MAX_LISTED);
    const omitted = record.statements.length - MAX_LISTED;
    if (omitted > 0) details.statementsOmitted = omitted;
    summary = statementsLine(record.statements);
  } else {
    summary = `${count(sessions.length, 'session')} open at revoke; statements not recorded (pg_stat_statements not available)`;
  }
  details.sessions = sessions;
  if (kept.length > 0) {
    details.keptObjects = kept;
    const owners = [...new Set(kept.map((k) => k.owner))].join(', ');
    summary += `; kept ${count(kept.length, 'object')} it created, now owned by ${owners}`;
  }
  return { summary, details };
}

/** "42 statements: 40 SELECT, 2 UPDATE on orders". */
function statementsLine(statements: StatementActivity[]): string {
  const total = statements.reduce((sum, s) => sum + s.calls, 0);
  if (total === 0) return 'no statements recorded';
  const commands = ranked(statements.map((s): [string, number] => [s.command, s.calls]));
  const shown = commands.slice(0, SUMMARY_COMMANDS).map(([name, calls]) => `${calls} ${name}`);
  const rest = commands.slice(SUMMARY_COMMANDS).reduce((sum, [, calls]) => sum + calls, 0);
  if (rest > 0) shown.push(`${rest} other`);
  const tables = ranked(
    statements.flatMap((s) => (s.tables ?? []).map((t): [string, number] => [t, s.calls])),
  )
    .slice(0, SUMMARY_TABLES)
    .map(([name]) => name);
  const on = tables.length > 0 ? ` on ${tables.join(', ')}` : '';
  return `${count(total, 'statement')}: ${shown.join(', ')}${on}`;
}

/** Sums by name, most first (ties by name, so the line is stable). */
function ranked(pairs: [string, number][]): [string, number][] {
  const sums = new Map<string, number>();
  for (const [name, n] of pairs) sums.set(name, (sums.get(name) ?? 0) + n);
  return [...sums].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
