import { createHash } from 'node:crypto';

/**
 * One statement, written once in the SQL that SQLite and PostgreSQL both accept, with `?`
 * placeholders. PostgreSQL gets its `$n` form and a stable name, so each connection parses and
 * plans it once; SQLite prepares it once per connection.
 */
export class Sql {
  readonly pg: string;
  readonly name: string;
  /** How many values it takes: its placeholders. */
  readonly arity: number;

  constructor(readonly text: string) {
    let n = 0;
    this.pg = text.replace(/\?/g, () => `$${++n}`);
    this.arity = n;
    this.name = `hp_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
  }
}

export type Param = string | number | boolean | null;

/** A statement with its values, as the generic table statements build them. */
export type BoundSql = readonly [Sql, readonly Param[]];

/** A row as the driver returns it: column names as written in the SQL. */
export type RawRow = Record<string, unknown>;

/** Runs statements on one connection (or a pool); the only part that differs per database. */
export interface Runner {
  rows(sql: Sql, params?: readonly Param[]): Promise<RawRow[]>;
  /** Rows as arrays in select-list order: no object per row, for long walks. */
  arrays(sql: Sql, params?: readonly Param[]): Promise<unknown[][]>;
  /** Runs a statement that returns no rows; resolves with the number of rows it changed. */
  run(sql: Sql, params?: readonly Param[]): Promise<number>;
  /**
   * Runs a write whose answer nobody reads (an insert). Within a PostgreSQL transaction it is sent
   * with the next statement, or with the COMMIT, instead of costing a round trip of its own;
   * should it fail, that statement fails and the transaction rolls back whole.
   */
  write(sql: Sql, params?: readonly Param[]): Promise<void>;
  /**
   * The rows of each read, in order. On PostgreSQL they go in one round trip, where the cost of a
   * read that finds a row by its key is mostly the trip; on SQLite they run one after another.
   */
  rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]>;
}

/** The same text always gives the same Sql, so statements built at run time are prepared once. */
const built = new Map<string, Sql>();
const BUILT_MAX = 2_000;

export function sqlOf(text: string): Sql {
  let found = built.get(text);
  if (!found) {
    if (built.size >= BUILT_MAX) built.clear();
    found = new Sql(text);
    built.set(text, found);
  }
  return found;
}

/** `?, ?, ?` for an IN list or a VALUES row of `n` items. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
