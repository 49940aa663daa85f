import type Database from 'better-sqlite3';
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import pg from 'pg';
import { rowMapper } from '../src/store/mapping';
import * as pgTables from '../src/store/schema/postgres';
import * as sqliteTables from '../src/store/schema/sqlite';

/** The tables the bench seeds, each after those it refers to. */
export const SEEDED_TABLES = ['requests', 'approvals', 'grants', 'auditEvents'] as const;
export type Seeded = (typeof SEEDED_TABLES)[number];

/** Rows per INSERT: 9 columns of audit_events stay far below PostgreSQL's 65,535 parameters. */
const BATCH = 1_000;

/**
 * Copies the seeded tables of a bench SQLite database (seeded by seed.ts) into a migrated
 * PostgreSQL database, each value through both schemas' column mappings, so both stores hold
 * the same rows. Many rows per INSERT: row-by-row inserts would take longer than the benches.
 */
export async function copySeeded(
  from: Database.Database,
  toUrl: string,
  tables: readonly Seeded[] = SEEDED_TABLES,
): Promise<void> {
  const client = new pg.Client({ connectionString: toUrl });
  await client.connect();
  try {
    for (const key of tables) await copyTable(from, client, sqliteTables[key], pgTables[key]);
    // Approvals came with their ids: the next one the store inserts takes the one after.
    if (tables.includes('approvals'))
      await client.query(
        "SELECT setval(pg_get_serial_sequence('approvals', 'id'), max(id)) FROM approvals HAVING count(*) > 0",
      );
  } finally {
    await client.end();
  }
}

async function copyTable(
  from: Database.Database,
  to: pg.Client,
  source: Table,
  target: Table,
): Promise<void> {
  const read = rowMapper<Record<string, unknown>>(source);
  const columns = Object.entries(getTableColumns(target));
  const names = columns.map(([, column]) => column.name).join(', ');
  let values: unknown[] = [];
  let rows = 0;
  const flush = async () => {
    if (rows === 0) return;
    const groups = Array.from(
      { length: rows },
      (_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
    );
    await to.query(
      `INSERT INTO ${getTableName(target)} (${names}) VALUES ${groups.join(', ')}`,
      values,
    );
    values = [];
    rows = 0;
  };
  await to.query('BEGIN');
  const select = from.prepare(`SELECT * FROM ${getTableName(source)}`);
  for (const raw of select.iterate() as Iterable<Record<string, unknown>>) {
    const row = read(raw);
    for (const [key, column] of columns) {
      const value = row[key];
      values.push(value === null || value === undefined ? null : column.mapToDriverValue(value));
    }
    if (++rows === BATCH) await flush();
  }
  await flush();
  await to.query('COMMIT');
}
