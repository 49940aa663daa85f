import { placeholders } from './sql';

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
  /**
   * The aggregate of `expr`'s nearest-rank `percent`-th percentile: the value at rank
   * ceil(percent/100 × n) of the values in order, never interpolated; null over no rows.
   * PostgreSQL's percentile_disc is that rule; SQLite runs `nearestRank` (sqlite/nearest-rank.ts)
   * as the aggregate `nearest_rank`, registered on every connection.
   */
  nearestRank(expr: string, percent: number): string;
  /** Appended to a SELECT that claims rows other writers may be claiming at the same time. */
  skipLocked: string;
  /** Statements that go first, in the same transaction, when outbox rows are claimed. */
  beforeClaim: readonly string[];
  /**
   * One SELECT whose single row holds, in columns `each_0`, `each_1`, ..., the rows of each of
   * `selects` as a JSON array of objects keyed by column name; absent where reading them one
   * after another costs nothing extra. Only for columns JSON carries exactly (text, integers up
   * to 2^53, booleans). See `readEach`.
   */
  jsonRowsOfEach?: (selects: readonly string[]) => string;
  /**
   * The rows of `table` whose `column` is one of `keys` values (the first `keys` parameters) and
   * that match `condition` (whose parameters follow), found through an index on `column`, one key
   * at a time.
   */
  rowsOfKeys(table: string, column: string, keys: number, condition: string): string;
}

export const sqliteDialect: Dialect = {
  jsonText: (column, key) => `json_extract(${column}, '$.${key}')`,
  least: (a, b) => `min(${a}, ${b})`,
  greatest: (a, b) => `max(${a}, ${b})`,
  nearestRank: (expr, percent) => `nearest_rank(${expr}, ${percent})`,
  // One writer at a time already: BEGIN IMMEDIATE serialises claims.
  skipLocked: '',
  // Its index holds the rows as they are: nothing for the claim's plan to step around.
  beforeClaim: [],
  // No jsonRowsOfEach: its statements are prepared once per connection and run in-process.
  rowsOfKeys: (table, column, keys, condition) =>
    `SELECT * FROM ${table} WHERE ${column} IN (${placeholders(keys)}) AND (${condition})`,
};

export const postgresDialect: Dialect = {
  jsonText: (column, key) => `(${column}::jsonb ->> '${key}')`,
  least: (a, b) => `least(${a}, ${b})`,
  greatest: (a, b) => `greatest(${a}, ${b})`,
  nearestRank: (expr, percent) =>
    `percentile_disc(${percent / 100}) WITHIN GROUP (ORDER BY ${expr})`,
  skipLocked: 'FOR UPDATE SKIP LOCKED',
  // Expecting few due rows, the planner reads every one with a bitmap scan and sorts them, and a
  // burst of filings leaves many: 174 ms a claim with 100,000 due (the outbox burst rows of
  // bench/outbox.ts). A plain scan of the due index, in the claim's order, stops once it has its
  // rows, and marks the dead entries it passes (a row delivered leaves two until vacuum comes by),
  // so the next claim steps over them.
  beforeClaim: ['SET LOCAL enable_bitmapscan = off'],
  // A simple query of several statements is planned again each time it is sent; one statement
  // sent by name is planned once per connection (docs/performance-journal.md, "A request's
  // standing in one planned statement on PostgreSQL").
  jsonRowsOfEach: (selects) =>
    `SELECT ${selects
      .map(
        (select, i) =>
          `(SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) FROM (${select}) x) AS each_${i}`,
      )
      .join(', ')}`,
  // Given an IN list of keys, the planner reads every row that matches the rest instead when it
  // prices the index probes higher (a mass expiry's 128 people against all 10,000 live grants:
  // 1.3 to 1.9 ms, where the probes take 0.3). A lateral subquery per key, which OFFSET 0 keeps
  // from being merged back into one scan, has only the index to go by
  // (docs/performance-journal.md, "PostgreSQL's lag rows, twice the same morning").
  rowsOfKeys: (table, column, keys, condition) =>
    `SELECT t.* FROM (VALUES ${Array.from({ length: keys }, () => '(?)').join(', ')}) AS k(key)
       CROSS JOIN LATERAL (SELECT * FROM ${table} WHERE ${column} = k.key AND (${condition}) OFFSET 0) t`,
};
