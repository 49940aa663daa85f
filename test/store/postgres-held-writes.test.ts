import { Client, type QueryConfig } from 'pg';
import { PgRunner, PgTransactionRunner, type Queryable } from '../../src/store/postgres/runner';
import { sqlOf, type Param } from '../../src/store/sql';
import { freshPostgresDatabase } from '../support/stores';
import { RoundTripText } from '../support/round-trip-text';

const INSERT = sqlOf('INSERT INTO held (id, word, amount, ratio, flag) VALUES (?, ?, ?, ?, ?)');
const ALL = sqlOf('SELECT id, word, amount, ratio, flag FROM held ORDER BY id');
const COUNT_ABOVE = sqlOf('SELECT count(*) AS n FROM held WHERE amount > ?');
const DOUBLE = sqlOf('UPDATE held SET amount = amount * 2 WHERE amount >= ?');

/**
 * Values as the core writes them, the awkward ones included: quotes and backslashes (escaped
 * differently), text that looks like SQL or a placeholder, control characters, other scripts.
 */
const AWKWARD: readonly Param[][] = [
  [1, "it's O'Brien's", 0, 0.5, true],
  [2, "C:\\path\\to\\file and \\' too", -1, 1e-7, false],
  [3, "'); DROP TABLE held; --", Number.MAX_SAFE_INTEGER, -2.25, null],
  [4, 'a ? and $1 and $$ quoted $$', 1_733_212_345_678, 3, true],
  [5, 'line one\nline two\ttabbed\r', 7, 0, false],
  [6, '日本語, émoji 🙂 and ZWJ 👩‍💻', 8, 1.5, null],
  [7, null, 9, null, true],
  [8, '', 10, 100, false],
];

describe('a PostgreSQL transaction holding the writes nobody reads the answer of', () => {
  let database: { url: string; release(): Promise<void> };
  let client: Client;
  let observer: Client;
  let sent: string[];
  /** The round trips as sent, PREPAREs and EXECUTEs as they are. */
  let raw: string[];
  let runner: PgTransactionRunner;

  /** The real connection, with a note of what each round trip carried. */
  const counting = (connection: Client): Queryable => {
    const text = new RoundTripText();
    return {
      query: (config: QueryConfig) => {
        raw.push(config.text);
        sent.push(text.read(config.text));
        return connection.query(config);
      },
    };
  };

  beforeEach(async () => {
    database = await freshPostgresDatabase();
    client = new Client({ connectionString: database.url });
    observer = new Client({ connectionString: database.url });
    await Promise.all([client.connect(), observer.connect()]);
    // A database is reused by later tests, which know nothing of this table.
    await client.query('DROP TABLE IF EXISTS held');
    await client.query(
      `CREATE TABLE held (id integer PRIMARY KEY, word text, amount bigint NOT NULL,
         ratio double precision, flag boolean)`,
    );
    sent = [];
    raw = [];
    runner = new PgTransactionRunner(counting(client));
    await client.query('BEGIN');
  });
  afterEach(async () => {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.query('DROP TABLE held');
    await Promise.all([client.end(), observer.end()]);
    await database.release();
  });

  const committed = async () =>
    (await observer.query<{ id: number }>('SELECT id FROM held ORDER BY id')).rows.map((r) => r.id);

  it('sends its inserts with COMMIT, in one round trip', async () => {
    await runner.write(INSERT, [1, 'one', 1, 1, true]);
    await runner.write(INSERT, [2, 'two', 2, 2, false]);
    expect(sent).toEqual([]);
    expect(await committed()).toEqual([]);

    await runner.commit();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/INSERT INTO held[\s\S]*INSERT INTO held[\s\S]*COMMIT$/);
    expect(await committed()).toEqual([1, 2]);
  });

  it('opens its transaction in the round trip of its first statement', async () => {
    await client.query('ROLLBACK');
    sent = [];
    runner.hold('BEGIN');
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    expect(await runner.rows(COUNT_ABOVE, [4])).toEqual([{ n: '1' }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^BEGIN;\nINSERT INTO held/);
    // Inside a transaction, not committed statement by statement.
    expect(await committed()).toEqual([]);
    await runner.commit();
    expect(await committed()).toEqual([1]);
  });

  it('sends what it holds with the next read, which sees it, in one round trip', async () => {
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    await runner.write(INSERT, [2, 'two', 50, null, null]);
    expect(await runner.rows(COUNT_ABOVE, [4])).toEqual([{ n: '2' }]);
    expect(sent).toHaveLength(1);
    // With nothing held, a read goes alone, prepared by name as always.
    expect(await runner.rows(COUNT_ABOVE, [10])).toEqual([{ n: '1' }]);
    expect(sent).toHaveLength(2);

    await runner.write(INSERT, [3, 'three', 500, null, null]);
    expect(await runner.arrays(ALL)).toEqual([
      [1, 'one', '5', null, null],
      [2, 'two', '50', null, null],
      [3, 'three', '500', null, null],
    ]);
    expect(sent).toHaveLength(3);
  });

  it('reads several statements in one round trip after what it holds, each with its own rows', async () => {
    await runner.write(INSERT, [1, "it's one", 5, 0.5, true]);
    await runner.write(INSERT, [2, 'two', 50, null, null]);
    const [above, all, none] = await runner.rowsOfEach([
      [COUNT_ABOVE, [4]],
      [ALL, []],
      [COUNT_ABOVE, [500]],
    ]);
    expect(sent).toHaveLength(1);
    expect(above).toEqual([{ n: '2' }]);
    expect(none).toEqual([{ n: '0' }]);
    // Typed as the same read with parameters types its rows.
    expect(all).toEqual(await runner.rows(ALL));
    expect(all).toEqual([
      { id: 1, word: "it's one", amount: '5', ratio: 0.5, flag: true },
      { id: 2, word: 'two', amount: '50', ratio: null, flag: null },
    ]);
  });

  it('reads several statements in one round trip on a connection holding nothing', async () => {
    await runner.commit();
    sent = [];
    const reader = new PgRunner(counting(observer));
    expect(
      await reader.rowsOfEach([
        [COUNT_ABOVE, [0]],
        [ALL, []],
      ]),
    ).toEqual([[{ n: '0' }], []]);
    expect(await reader.rowsOfEach([[COUNT_ABOVE, [0]]])).toEqual([[{ n: '0' }]]);
    expect(sent).toHaveLength(2);
  });

  it('answers a held read in the round trip of the next statement, as objects whatever it asked', async () => {
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    const asked = runner.ask(COUNT_ABOVE, [4]);
    expect(sent).toEqual([]);
    expect(await runner.arrays(ALL)).toEqual([[1, 'one', '5', null, null]]);
    expect(sent).toHaveLength(1);
    expect(await asked()).toEqual([{ n: '1' }]);
    expect(sent).toHaveLength(1);
  });

  it('sends a held read with what is held when its rows are wanted first', async () => {
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    const asked = runner.ask(COUNT_ABOVE, [4]);
    expect(await asked()).toEqual([{ n: '1' }]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^INSERT INTO held[\s\S]*SELECT count/);
    await runner.commit();
    expect(sent.slice(1)).toEqual(['COMMIT']);
  });

  it('fails the round trip whose answer a held read refuses, answering nothing after it', async () => {
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    const refusing = runner.ask(COUNT_ABOVE, [0], ([row]) => {
      if (row?.n !== '0') throw new Error(`refused: ${String(row?.n)} above`);
    });
    const after = runner.ask(ALL);
    await expect(runner.rows(COUNT_ABOVE, [1])).rejects.toThrow('refused: 1 above');
    await expect(refusing()).rejects.toThrow('a held read was not answered');
    await expect(after()).rejects.toThrow('a held read was not answered');
    expect(sent).toHaveLength(1);
  });

  it('never answers a held read whose round trip failed', async () => {
    await runner.write(INSERT, [1, 'one', 1, null, null]);
    await runner.write(INSERT, [1, 'the same id again', 2, null, null]);
    const asked = runner.ask(COUNT_ABOVE, [0]);
    await expect(runner.rows(ALL)).rejects.toMatchObject({ code: '23505' });
    await expect(asked()).rejects.toThrow('a held read was not answered');
  });

  it("answers a write that is counted with that write's own count, sent with what was held", async () => {
    await runner.write(INSERT, [1, 'one', 5, null, null]);
    await runner.write(INSERT, [2, 'two', 50, null, null]);
    await runner.write(INSERT, [3, 'three', 500, null, null]);
    expect(await runner.run(DOUBLE, [50])).toBe(2);
    expect(sent).toHaveLength(1);
    await runner.commit();
    const amounts = await observer.query<{ amount: string }>('SELECT amount FROM held ORDER BY id');
    expect(amounts.rows.map((r) => r.amount)).toEqual(['5', '100', '1000']);
  });

  it('stores every value exactly as the same statement with parameters does', async () => {
    for (const values of AWKWARD) await runner.write(INSERT, values);
    await runner.commit();
    const held = (await observer.query({ text: ALL.pg, rowMode: 'array' })).rows;

    await observer.query('TRUNCATE held');
    const bound = new PgRunner(observer);
    for (const values of AWKWARD) await bound.run(INSERT, values);
    const parameters = (await observer.query({ text: ALL.pg, rowMode: 'array' })).rows;

    expect(held).toEqual(parameters);
    expect(held).toHaveLength(AWKWARD.length);
  });

  it('fails the round trip that carries a refused write, and the transaction keeps none of its writes', async () => {
    await runner.write(INSERT, [1, 'one', 1, null, null]);
    await runner.write(INSERT, [1, 'the same id again', 2, null, null]);
    await expect(runner.commit()).rejects.toMatchObject({ code: '23505' });
    await client.query('ROLLBACK');
    expect(await committed()).toEqual([]);

    // The connection goes on: the next transaction commits normally.
    await client.query('BEGIN');
    await runner.write(INSERT, [3, 'three', 3, null, null]);
    await runner.commit();
    expect(await committed()).toEqual([3]);
  });

  it('prepares each statement once on its connection, and runs it by name with its values after', async () => {
    await runner.write(INSERT, [1, 'one', 1, null, null]);
    await runner.write(INSERT, [2, 'two', 2, null, null]);
    await runner.commit();
    expect(raw[0]).toMatch(
      /^PREPARE (hx_\d+) AS INSERT INTO held[^;]*;\nEXECUTE \1\('1', [^;]*;\nEXECUTE \1\('2', [^;]*;\nCOMMIT$/,
    );
    for (let id = 3; id <= 12; id++) {
      await client.query('BEGIN');
      await runner.write(INSERT, [id, 'more', id, null, null]);
      await runner.commit();
    }
    expect(raw.slice(1).every((trip) => /^EXECUTE hx_\d+\('\d+', 'more'/.test(trip))).toBe(true);
    expect(await committed()).toHaveLength(12);
    // The server plans it afresh only for its first runs, then reuses one plan.
    const { rows } = await client.query<{ generic_plans: string }>(
      "SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE 'PREPARE hx_%INSERT INTO held%'",
    );
    expect(Number(rows[0]!.generic_plans)).toBeGreaterThan(0);
  });

  it('prepares a statement again, under a name of its own, after a round trip with its PREPARE failed', async () => {
    await runner.write(INSERT, [1, 'one', 1, null, null]);
    await runner.write(INSERT, [1, 'the same id again', 2, null, null]);
    await expect(runner.commit()).rejects.toMatchObject({ code: '23505' });
    await client.query('ROLLBACK');
    // That PREPARE ran before the refused write and outlived the rollback: its name is not used
    // again, as nothing tells which PREPAREs of a failed round trip ran.
    const first = /^PREPARE (hx_\d+)/.exec(raw[0]!)![1];
    await client.query('BEGIN');
    await runner.write(INSERT, [2, 'two', 2, null, null]);
    await runner.commit();
    const second = /^PREPARE (hx_\d+)/.exec(raw[1]!)![1];
    expect(second).not.toBe(first);
    expect(await committed()).toEqual([2]);
  });

  it('sends nothing it held once the transaction is given up', async () => {
    await runner.write(INSERT, [1, 'one', 1, null, null]);
    runner.discard();
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await runner.commit();
    expect(sent).toEqual(['COMMIT']);
    expect(await committed()).toEqual([]);
  });

  it('refuses a write given more or fewer values than its placeholders, holding nothing', async () => {
    await expect(runner.write(INSERT, [1, 'one', 1, null])).rejects.toThrow(
      'a statement with 5 placeholders was given 4 values',
    );
    await expect(runner.write(INSERT, [1, 'one', 1, null, null, 'extra'])).rejects.toThrow(
      'a statement with 5 placeholders was given 6 values',
    );
    await runner.commit();
    expect(sent).toEqual(['COMMIT']);
  });
});
