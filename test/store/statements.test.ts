import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sql, sqlOf } from '../../src/store/sql';
import { SqliteRunner } from '../../src/store/sqlite/runner';
import { tempDir } from '../support/tmp';

describe('statements', () => {
  it('are written once with ? placeholders and get their PostgreSQL form and a stable name', () => {
    const sql = new Sql('SELECT * FROM grants WHERE user_id = ? AND resource_id = ? LIMIT ?');
    expect(sql.pg).toBe('SELECT * FROM grants WHERE user_id = $1 AND resource_id = $2 LIMIT $3');
    expect(sql.name).toMatch(/^hp_[0-9a-f]{20}$/);
    expect(new Sql(sql.text).name).toBe(sql.name);
    expect(new Sql(`${sql.text} `).name).not.toBe(sql.name);
  });

  it('built at run time from the same text are the same statement, so it is prepared once', () => {
    const text = 'SELECT count(*) AS n FROM grants WHERE user_id IN (?, ?)';
    expect(sqlOf(text)).toBe(sqlOf(text));
    expect(sqlOf(text)).not.toBe(sqlOf(`${text} AND status = ?`));
  });
});

describe('SQLite runner', () => {
  const tmp = tempDir();
  const a = new Database(join(tmp.dir, 'a.db'));
  const b = new Database(join(tmp.dir, 'b.db'));
  afterAll(() => {
    a.close();
    b.close();
    tmp.cleanup();
  });

  it('prepares a statement once per connection and keeps what it prepared', async () => {
    const count = new Sql('SELECT count(*) AS n FROM sqlite_master');
    const other = new Sql('SELECT count(*) AS n FROM sqlite_master WHERE type = ?');
    const prepareA = jest.spyOn(a, 'prepare');
    const prepareB = jest.spyOn(b, 'prepare');
    const onA = new SqliteRunner(a);
    const onB = new SqliteRunner(b);
    expect(onA.prepared(count)).toBe(onA.prepared(count));
    expect(await onA.rows(count)).toEqual([{ n: 0 }]);
    expect(prepareA).toHaveBeenCalledTimes(1);
    expect(onB.prepared(count)).not.toBe(onA.prepared(count));
    expect(prepareB).toHaveBeenCalledTimes(1);
    expect(onA.prepared(other)).not.toBe(onA.prepared(count));
    expect(await onA.rows(other, ['table'])).toEqual([{ n: 0 }]);
    expect(prepareA).toHaveBeenCalledTimes(2);
  });
});
