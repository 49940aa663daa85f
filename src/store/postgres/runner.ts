import pg, { type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import type { BoundSql, Param, RawRow, Runner, Sql } from '../sql';

/** A pool (each statement on whichever connection is free) or one checked-out connection. */
export interface Queryable {
  query<R extends QueryResultRow>(
    config: QueryConfig & { rowMode?: 'array' },
  ): Promise<QueryResult<R>>;
}

/**
 * Runs statements on a pool (each on whichever connection is free) or on one checked-out
 * connection (a transaction). Every statement is sent by name, so each connection parses and
 * plans it once and then only binds values.
 */
export class PgRunner implements Runner {
  constructor(protected readonly client: Queryable) {}

  async rows(sql: Sql, params: readonly Param[] = []): Promise<RawRow[]> {
    const result = await this.client.query<RawRow>({
      name: sql.name,
      text: sql.pg,
      values: params as Param[],
    });
    return result.rows;
  }

  async arrays(sql: Sql, params: readonly Param[] = []): Promise<unknown[][]> {
    const result = await this.client.query<unknown[]>({
      name: `${sql.name}_a`,
      text: sql.pg,
      values: params as Param[],
      rowMode: 'array',
    });
    return result.rows;
  }

  async run(sql: Sql, params: readonly Param[] = []): Promise<number> {
    const result = await this.client.query({
      name: sql.name,
      text: sql.pg,
      values: params as Param[],
    });
    return result.rowCount ?? 0;
  }

  async write(sql: Sql, params: readonly Param[] = []): Promise<void> {
    await this.run(sql, params);
  }

  async rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]> {
    const results = await this.several(statements.map(([sql, params]) => inline(sql, params)));
    return results.map((result) => result.rows as RawRow[]);
  }

  /**
   * The results of each statement, sent as one simple query (which takes no parameters: the
   * values are written in as literals, see `inline`); one round trip for all.
   */
  protected async several(
    statements: readonly string[],
    rowMode?: 'array',
  ): Promise<QueryResult[]> {
    const answer: QueryResult | QueryResult[] = await this.client.query({
      text: statements.join(';\n'),
      rowMode,
    });
    return Array.isArray(answer) ? answer : [answer];
  }
}

/**
 * The statements of one transaction on its connection. A write nobody reads the answer of is
 * held, and sent in the same round trip as the next statement or the COMMIT: a `/jit request`
 * filing's request, audit event and outbox rows go with its COMMIT, and every round trip on the
 * one change connection is time each change queued behind it waits. A round trip of several
 * statements is a simple query, which takes no parameters, so there the values are written in
 * as the literals pg itself would send as text.
 */
export class PgTransactionRunner extends PgRunner {
  private held: Held[] = [];

  override async write(sql: Sql, params: readonly Param[] = []): Promise<void> {
    this.held.push({ text: inline(sql, params) });
  }

  /** Holds one statement without parameters (a BEGIN), to go with the next one. */
  hold(statement: string): void {
    this.held.push({ text: statement });
  }

  /**
   * Holds a read whose answer is wanted later, to go with the next statement (a change's chain
   * head rides with its first read). `accept` sees its rows as they come back and may throw,
   * which fails that round trip for whoever sent it. The function returned gives the rows, and
   * sends what is held first when nothing has gone since.
   */
  ask(
    sql: Sql,
    params: readonly Param[] = [],
    accept?: (rows: RawRow[]) => void,
  ): () => Promise<RawRow[]> {
    let answer: RawRow[] | undefined;
    this.held.push({
      text: inline(sql, params),
      answer: (result) => {
        const rows = objectRows(result);
        accept?.(rows);
        answer = rows;
      },
    });
    return async () => {
      if (!answer && this.held.length > 0) await this.sendHeld([]);
      if (!answer) throw new Error('a held read was not answered: its round trip failed');
      return answer;
    };
  }

  override async rows(sql: Sql, params: readonly Param[] = []): Promise<RawRow[]> {
    if (this.held.length === 0) return super.rows(sql, params);
    return (await this.sendHeldWith(inline(sql, params))).rows as RawRow[];
  }

  override async arrays(sql: Sql, params: readonly Param[] = []): Promise<unknown[][]> {
    if (this.held.length === 0) return super.arrays(sql, params);
    return (await this.sendHeldWith(inline(sql, params), 'array')).rows as unknown[][];
  }

  override async run(sql: Sql, params: readonly Param[] = []): Promise<number> {
    if (this.held.length === 0) return super.run(sql, params);
    return (await this.sendHeldWith(inline(sql, params))).rowCount ?? 0;
  }

  /** What is held goes first, in the same round trip. */
  override async rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]> {
    const results = await this.sendHeld(statements.map(([sql, params]) => inline(sql, params)));
    return results.map((result) => result.rows as RawRow[]);
  }

  /** Sends what is held, then COMMIT, in one round trip. */
  async commit(): Promise<void> {
    await this.sendHeldWith('COMMIT');
  }

  /**
   * Takes what is held, then COMMIT, out of this transaction unsent: the next transaction on this
   * connection sends them first (`holdFirst`). `committed` runs when the COMMIT is answered.
   */
  takeCommit(committed: () => void): Held[] {
    const taken = [...this.held, { text: 'COMMIT', answer: committed }];
    this.held = [];
    return taken;
  }

  /** Holds another transaction's last statements ahead of whatever this one holds. */
  holdFirst(statements: readonly Held[]): void {
    this.held = [...statements, ...this.held];
  }

  /** Whether `statements` are still held here, unsent. */
  stillHolds(statements: readonly Held[]): boolean {
    return statements.every((statement) => this.held.includes(statement));
  }

  /** Sends `statements`, held here, on their own now, keeping the rest held. */
  async sendOnly(statements: readonly Held[]): Promise<void> {
    this.held = this.held.filter((statement) => !statements.includes(statement));
    const results = await this.several(statements.map((h) => h.text));
    statements.forEach((h, i) => h.answer?.(results[i]!));
  }

  /** Forgets what is held: the transaction is rolled back without it. */
  discard(): void {
    this.held = [];
  }

  private async sendHeldWith(statement: string, rowMode?: 'array'): Promise<QueryResult> {
    return (await this.sendHeld([statement], rowMode))[0]!;
  }

  /**
   * What is held, then `statements`, in one round trip; resolves with the results of
   * `statements`. Should a held write fail, the server runs nothing after it and the error
   * rejects this call, whoever made it.
   */
  private async sendHeld(statements: readonly string[], rowMode?: 'array'): Promise<QueryResult[]> {
    const held = this.held;
    this.held = [];
    const results = await this.several([...held.map((h) => h.text), ...statements], rowMode);
    held.forEach((h, i) => h.answer?.(results[i]!));
    return results.slice(held.length);
  }
}

/** A statement held for the next round trip, and where its answer goes when one is wanted. */
export interface Held {
  text: string;
  answer?: (result: QueryResult) => void;
}

/** A result's rows as objects, also when the round trip it came in asked for arrays. */
function objectRows(result: QueryResult): RawRow[] {
  return result.rows.map((row: unknown) =>
    Array.isArray(row)
      ? Object.fromEntries(result.fields.map((field, i) => [field.name, row[i] as unknown]))
      : (row as RawRow),
  );
}

/** `sql` with each `?` replaced by its value as a literal, as `Sql` numbers them for pg. */
function inline(sql: Sql, params: readonly Param[]): string {
  let next = 0;
  const text = sql.text.replace(/\?/g, () => literal(params[next++]));
  if (next !== params.length)
    throw new Error(`a statement with ${next} placeholders was given ${params.length} values`);
  return text;
}

/** What pg sends for a parameter, as an untyped literal: the server types it from its place. */
function literal(value: Param | undefined): string {
  return value === null || value === undefined ? 'NULL' : pg.escapeLiteral(String(value));
}
