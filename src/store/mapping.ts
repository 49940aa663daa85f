import { getTableColumns, type Table } from 'drizzle-orm';
import type { RawRow } from './sql';

export type RowMapper<T> = (raw: RawRow) => T;

/**
 * Reads a `SELECT *` row of `table` into its drizzle row type: snake_case columns to the
 * schema's keys, each value through its column's own driver mapping (SQLite's 0/1 booleans,
 * PostgreSQL's bigint text), so the tables stay the one description of every column.
 */
export function rowMapper<T>(table: Table): RowMapper<T> {
  const columns = Object.entries(getTableColumns(table)).map(
    ([key, column]) => [key, column.name, column] as const,
  );
  return (raw) => {
    const out: Record<string, unknown> = {};
    for (const [key, name, column] of columns) {
      const value = raw[name];
      out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
    }
    return out as T;
  };
}
