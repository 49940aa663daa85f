import type { Database, Statement } from 'better-sqlite3';
import type { BoundSql, Param, RawRow, Runner, Sql } from '../sql';

/** SQLite has no boolean: drizzle's boolean columns store 0 and 1. */
function bind(params: readonly Param[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? Number(p) : p));
}

/**
 * Runs statements on one better-sqlite3 connection, each prepared once: SQLite compiles a
 * statement in tens of microseconds, longer than most of ours take to run. Calls complete
 * synchronously; the promises only give SQLite and PostgreSQL one shape.
 */
export class SqliteRunner implements Runner {
  private readonly statements = new Map<Sql, Statement>();
  private readonly rawStatements = new Map<Sql, Statement>();

  constructor(readonly db: Database) {}

  prepared(sql: Sql): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql.text);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private preparedRaw(sql: Sql): Statement {
    let statement = this.rawStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql.text).raw(true);
      this.rawStatements.set(sql, statement);
    }
    return statement;
  }

  async rows(sql: Sql, params: readonly Param[] = []): Promise<RawRow[]> {
    return this.prepared(sql).all(...bind(params)) as RawRow[];
  }

  async arrays(sql: Sql, params: readonly Param[] = []): Promise<unknown[][]> {
    return this.preparedRaw(sql).all(...bind(params)) as unknown[][];
  }

  async run(sql: Sql, params: readonly Param[] = []): Promise<number> {
    return this.prepared(sql).run(...bind(params)).changes;
  }

  async write(sql: Sql, params: readonly Param[] = []): Promise<void> {
    this.prepared(sql).run(...bind(params));
  }

  async rowsOfEach(statements: readonly BoundSql[]): Promise<RawRow[][]> {
    return statements.map(([sql, params]) => this.prepared(sql).all(...bind(params)) as RawRow[]);
  }
}
