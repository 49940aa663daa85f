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
 * statements is a simple query, which takes no parameters and is planned again each time it is
 * sent; so each statement in it is prepared on its connection the first time (SQL `PREPARE`) and
 * run by name from then on (`EXECUTE`, with its values as the literals pg itself would send as
 * text), which after a few runs reuses one plan. One runner serves one connection for its life.
 */
export class PgTransactionRunner extends PgRunner {
  private held: Held[] = [];
  /** Statements this connection has prepared, by their text: the name each was prepared under. */
  private readonly prepared = new Map<string, string>();
  /**
   * Names handed out on this connection. A round trip that fails may or may not have run the
   * PREPAREs in it (one that ran stays, even if its transaction rolls back), so a name is never
   * handed out twice: a statement whose round trip failed is prepared again under a new one.
   */
  private named = 0;

  override async write(sql: Sql, params: readonly Param[] = []): Promise<void> {
    this.held.push(bound(sql, params));
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
      ...bound(sql, params),
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
    return (await this.sendHeldWith(bound(sql, params))).rows as RawRow[];
  }

  override async arrays(sql: Sql, params: readonly Param[] = []): Promise<unknown[][]> {
    if (this.held.length === 0) return super.arrays(sql, params);
    return (await this.sendHeldWith(bound(sql, params), 'array')).rows as unknown[][];
  }

  override async run(sql: Sql, params: readonly Param[] = []): Promise<number> {
    if (this.held.length === 0) return super.run(sql, params);
    return (await this.sendHeldWith(bound(sql, params))).rowCount ?? 0;
  }

  /** What is held goes first, in the same round trip. */
  override async rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]> {
    const results = await this.sendHeld(statements.map(([sql, params]) => bound(sql, params)));
    return results.map((result) => result.rows as RawRow[]);
  }

  /** Sends what is held, then COMMIT, in one round trip. */
  async commit(): Promise<void> {
    await this.sendHeldWith({ text: 'COMMIT' });
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
    const results = await this.send(statements);
    statements.forEach((h, i) => h.answer?.(results[i]!));
  }

  /** Forgets what is held: the transaction is rolled back without it. */
  discard(): void {
    this.held = [];
  }

  private async sendHeldWith(statement: Statement, rowMode?: 'array'): Promise<QueryResult> {
    return (await this.sendHeld([statement], rowMode))[0]!;
  }

  /**
   * What is held, then `statements`, in one round trip; resolves with the results of
   * `statements`. Should a held write fail, the server runs nothing after it and the error
   * rejects this call, whoever made it.
   */
  private async sendHeld(
    statements: readonly Statement[],
    rowMode?: 'array',
  ): Promise<QueryResult[]> {
    const held = this.held;
    this.held = [];
    const results = await this.send([...held, ...statements], rowMode);
    held.forEach((h, i) => h.answer?.(results[i]!));
    return results.slice(held.length);
  }

  /**
   * `statements` in one round trip, each with values run by the name it was prepared under,
   * preceded by its PREPARE the first time; the result of each statement, in order.
   */
  private async send(statements: readonly Statement[], rowMode?: 'array'): Promise<QueryResult[]> {
    const preparing = new Map<string, string>();
    const texts: string[] = [];
    const resultAt: number[] = [];
    for (const statement of statements) {
      if (statement.sql) {
        const { sql, params = [] } = statement;
        let name = this.prepared.get(sql.pg) ?? preparing.get(sql.pg);
        if (!name && this.prepared.size + preparing.size < PREPARED_MAX) {
          name = `hx_${++this.named}`;
          preparing.set(sql.pg, name);
          texts.push(`PREPARE ${name} AS ${sql.pg}`);
        }
        resultAt.push(texts.length);
        texts.push(name ? executed(name, params) : inline(sql, params));
      } else {
        resultAt.push(texts.length);
        texts.push(statement.text);
      }
    }
    const results = await this.several(texts, rowMode);
    for (const [text, name] of preparing) this.prepared.set(text, name);
    return resultAt.map((i) => results[i]!);
  }
}

/**
 * Statements one connection prepares at most. What a change runs is a few dozen texts, but some
 * are built for a count of rows (a VALUES list, an IN list); past this the rest are sent as text.
 */
const PREPARED_MAX = 200;

/** A statement to send: with its values (`sql`, prepared on the connection), or as it is. */
type Statement =
  { sql: Sql; params?: readonly Param[]; text?: undefined } | { text: string; sql?: undefined };

/** A statement held for the next round trip, and where its answer goes when one is wanted. */
export type Held = Statement & { answer?: (result: QueryResult) => void };

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
  bound(sql, params);
  let next = 0;
  return sql.text.replace(/\?/g, () => literal(params[next++]));
}

/** `sql` with its values, refused when they are more or fewer than its placeholders. */
function bound(sql: Sql, params: readonly Param[]): Statement {
  if (params.length !== sql.arity)
    throw new Error(`a statement with ${sql.arity} placeholders was given ${params.length} values`);
  return { sql, params };
}

/** `EXECUTE` of the statement prepared as `name`, with `params` as literals. */
function executed(name: string, params: readonly Param[]): string {
  return params.length === 0
    ? `EXECUTE ${name}`
    : `EXECUTE ${name}(${params.map(literal).join(', ')})`;
}

/** What pg sends for a parameter, as an untyped literal: the server types it from its place. */
function literal(value: Param | undefined): string {
  return value === null || value === undefined ? 'NULL' : pg.escapeLiteral(String(value));
}
