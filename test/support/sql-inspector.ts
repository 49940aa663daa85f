import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * Reads (and, where a test must break something on purpose, writes) the database behind a store
 * with plain SQL on a connection of its own, as an operator would. `?` placeholders on both.
 */
export interface SqlInspector {
  /** SQL for the text of a top-level key of a JSON object stored as text, in this database's dialect. */
  json(column: string, key: string): string;
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** The first column of the first row. */
  value<T = unknown>(sql: string, ...params: unknown[]): Promise<T>;
  run(sql: string, ...params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export function sqliteInspector(file: string): SqlInspector {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  const bind = (params: unknown[]) => params.map((p) => (typeof p === 'boolean' ? Number(p) : p));
  return {
    json: (column, key) => `json_extract(${column}, '$.${key}')`,
    async all<T>(sql: string, ...params: unknown[]) {
      return db.prepare(sql).all(...bind(params)) as T[];
    },
    async get<T>(sql: string, ...params: unknown[]) {
      return db.prepare(sql).get(...bind(params)) as T | undefined;
    },
    async value<T>(sql: string, ...params: unknown[]) {
      return db
        .prepare(sql)
        .pluck()
        .get(...bind(params)) as T;
    },
    async run(sql: string, ...params: unknown[]) {
      const statement = db.prepare(sql);
      return statement.reader
        ? statement.all(...bind(params)).length
        : statement.run(...bind(params)).changes;
    },
    async close() {
      db.close();
    },
  };
}

const numbers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.ClientConfig['types'];

const dollar = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/** On a small pool: a connection the server cuts (a restart in a test) is replaced, not fatal. */
export async function postgresInspector(url: string): Promise<SqlInspector> {
  const client = new pg.Pool({ connectionString: url, types: numbers, max: 2 });
  client.on('error', () => undefined);
  await client.query('SELECT 1');
  const query = (sql: string, params: unknown[]) => client.query(dollar(sql), params);
  return {
    json: (column, key) => `(${column}::jsonb ->> '${key}')`,
    async all<T>(sql: string, ...params: unknown[]) {
      return (await query(sql, params)).rows as T[];
    },
    async get<T>(sql: string, ...params: unknown[]) {
      return (await query(sql, params)).rows[0] as T | undefined;
    },
    async value<T>(sql: string, ...params: unknown[]) {
      const result = await client.query({ text: dollar(sql), values: params, rowMode: 'array' });
      return (result.rows[0] as unknown[] | undefined)?.[0] as T;
    },
    async run(sql: string, ...params: unknown[]) {
      return (await query(sql, params)).rowCount ?? 0;
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}
