/**
 * The few pieces of SQL the two databases write differently. Everything else in src/store/queries
 * is written once, in the SQL both accept.
 */
export interface Dialect {
  /** The text of a top-level key of a JSON object stored as text. */
  jsonText(column: string, key: string): string;
  /** The smaller / larger of two numbers (SQLite: scalar min/max; PostgreSQL: LEAST/GREATEST). */
  least(a: string, b: string): string;
  greatest(a: string, b: string): string;
  /** Appended to a SELECT that claims rows other writers may be claiming at the same time. */
  skipLocked: string;
}

export const sqliteDialect: Dialect = {
  jsonText: (column, key) => `json_extract(${column}, '$.${key}')`,
  least: (a, b) => `min(${a}, ${b})`,
  greatest: (a, b) => `max(${a}, ${b})`,
  // One writer at a time already: BEGIN IMMEDIATE serialises claims.
  skipLocked: '',
};

export const postgresDialect: Dialect = {
  jsonText: (column, key) => `(${column}::jsonb ->> '${key}')`,
  least: (a, b) => `least(${a}, ${b})`,
  greatest: (a, b) => `greatest(${a}, ${b})`,
  skipLocked: 'FOR UPDATE SKIP LOCKED',
};
