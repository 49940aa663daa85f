import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import type { Param, RawRow, Runner, Sql } from '../sql';

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
  constructor(private readonly client: Queryable) {}

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
}
