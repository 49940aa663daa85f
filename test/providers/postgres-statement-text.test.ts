import { readStatement } from '../../src/providers/postgres/statement-text';

describe('reading a statement as pg_stat_statements keeps it', () => {
  it('keeps the normalized text of a planned statement, without its comments', () => {
    expect(
      readStatement(
        'SELECT o.id, sum(o.total)  FROM orders o /* ticket 4711 card=4111 */\n  WHERE o.customer = $1 -- vip\n GROUP BY o.id',
      ),
    ).toEqual({
      command: 'SELECT',
      text: 'SELECT o.id, sum(o.total) FROM orders o WHERE o.customer = $1 GROUP BY o.id',
      tables: ['orders'],
    });
  });

  it.each([
    ["ALTER ROLE CURRENT_USER PASSWORD 'hunter2'", 'ALTER ROLE'],
    ["CREATE TABLE scratch.stash AS SELECT 'card-4111' AS c", 'CREATE TABLE AS'],
    ["SELECT 'secret' AS x INTO scratch.t2", 'SELECT INTO'],
    ['SELECT 4111111111111111 INTO TEMP t3', 'SELECT INTO'],
    ["WITH q AS (SELECT 'secret') SELECT * INTO t4 FROM q", 'SELECT INTO'],
    ["COPY (SELECT 'secret') TO STDOUT", 'COPY'],
    ["DO $$BEGIN PERFORM 'secret'; END$$", 'DO'],
    ["SET application_name = 'secret'", 'SET'],
    ["EXPLAIN SELECT 'secret'", 'EXPLAIN'],
    ["EXECUTE p('secret')", 'EXECUTE'],
    ["CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", 'CREATE FUNCTION'],
    ['CREATE UNIQUE INDEX ON t (a)', 'CREATE INDEX'],
    ['CREATE TEMP TABLE secret_42 (a int)', 'CREATE TABLE'],
    ['DROP MATERIALIZED VIEW IF EXISTS v', 'DROP MATERIALIZED VIEW'],
    ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x', 'ALTER DEFAULT PRIVILEGES'],
    ['REFRESH MATERIALIZED VIEW v', 'REFRESH MATERIALIZED VIEW'],
    ['BEGIN', 'BEGIN'],
    ["CALL p('secret')", 'CALL'],
    ["hunter2 'x'", 'OTHER'],
  ])('a utility statement keeps only its command: %s', (sql, command) => {
    expect(readStatement(sql)).toEqual({ command, tables: [] });
  });

  it.each([
    ["SELECT * FROM t WHERE a = 'left as typed'"],
    ['SELECT * FROM t WHERE a = $tag$dollar quoted$tag$'],
    ["SELECT * FROM t WHERE a = E'it\\'s'"],
    ['SELECT * FROM t ORDER BY 1'],
    ['SELECT a::varchar(10) FROM t'],
  ])('a planned statement with a literal left in it loses its text: %s', (sql) => {
    const shape = readStatement(sql);
    expect(shape.command).toBe('SELECT');
    expect(shape.text).toBeUndefined();
    expect(shape.tables).toEqual(['t']);
  });

  it.each([
    ['INSERT INTO public.orders (id, total) VALUES ($1, $2)', 'INSERT', ['public.orders']],
    ['UPDATE ONLY orders SET total = $1 WHERE id = $2', 'UPDATE', ['orders']],
    [
      'DELETE FROM orders USING customers c WHERE c.id = orders.c',
      'DELETE',
      ['orders', 'customers'],
    ],
    [
      'MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET n = s.n + d.n',
      'MERGE',
      ['stock', 'deliveries'],
    ],
    [
      'WITH recent AS (SELECT * FROM orders WHERE ts > $1) UPDATE customers SET seen = now() FROM recent WHERE customers.id = recent.c',
      'UPDATE',
      ['orders', 'customers'],
    ],
    [
      'WITH moved AS (DELETE FROM queue RETURNING *) INSERT INTO done SELECT * FROM moved',
      'INSERT',
      ['queue', 'done'],
    ],
    [
      'SELECT * FROM orders o, items AS i (a, b), "Odd Name" JOIN customers AS c USING (cid) WHERE o.id IN (SELECT oid FROM refunds)',
      'SELECT',
      ['orders', 'items', '"Odd Name"', 'customers', 'refunds'],
    ],
    [
      'SELECT extract(year FROM o.ts), substring(o.note FROM $1) FROM orders o WHERE o.a IS DISTINCT FROM o.b',
      'SELECT',
      ['orders'],
    ],
    ['SELECT * FROM generate_series($1, $2) g, LATERAL (SELECT * FROM t2) x', 'SELECT', ['t2']],
    ['SELECT * FROM orders FOR UPDATE OF orders NOWAIT', 'SELECT', ['orders']],
    [
      'INSERT INTO counters (k, n) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET n = counters.n + $3',
      'INSERT',
      ['counters'],
    ],
    ['TABLE orders', 'SELECT', ['orders']],
    ['VALUES ($1), ($2)', 'SELECT', []],
  ])('names the tables of %s', (sql, command, tables) => {
    const shape = readStatement(sql);
    expect(shape.command).toBe(command);
    expect(shape.text).toBe(sql);
    expect(shape.tables).toEqual(tables);
  });

  it('reads a prepared statement as the statement it prepares, as pg_stat_statements counts it', () => {
    expect(readStatement('PREPARE p (int) AS SELECT * FROM orders WHERE id = $1')).toEqual({
      command: 'SELECT',
      text: 'PREPARE p (int) AS SELECT * FROM orders WHERE id = $1',
      tables: ['orders'],
    });
    expect(readStatement("PREPARE p AS SELECT 'x' INTO t")).toEqual({
      command: 'SELECT INTO',
      tables: [],
    });
    expect(readStatement("PREPARE p AS SELECT 'x'")).toEqual({ command: 'SELECT', tables: [] });
  });

  it('does not take an operator for a comment, nor a comment for an operator', () => {
    expect(readStatement('SELECT a->>$1, b/*c*/+ $2 FROM t--x').text).toBe(
      'SELECT a->>$1, b + $2 FROM t',
    );
    expect(readStatement('SELECT a /* x /* nested */ still */ FROM t').text).toBe(
      'SELECT a FROM t',
    );
  });

  it('cuts a very long text at a token, never inside one', () => {
    const columns = Array.from({ length: 400 }, (_, i) => `column_${i}`).join(', ');
    const text = readStatement(`SELECT ${columns} FROM t`).text!;
    expect(text.length).toBeLessThanOrEqual(1002);
    expect(text).toMatch(/column_\d+, …$/);
  });
});
