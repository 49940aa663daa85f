import { join } from 'node:path';
import { inTransaction, openDb, type Db } from '../../src/store/db';
import { tempDir } from '../support/tmp';

describe('inTransaction', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Db;
  let other: Db;
  const names = (d: Db) => d.$client.prepare('SELECT name FROM t ORDER BY name').pluck().all();
  const add = (name: string) => db.$client.prepare('INSERT INTO t (name) VALUES (?)').run(name);

  beforeEach(() => {
    tmp = tempDir();
    db = openDb(join(tmp.dir, 'tx.db'));
    db.$client.exec('CREATE TABLE t (name TEXT PRIMARY KEY)');
    other = openDb(join(tmp.dir, 'tx.db'), { busyTimeoutMs: 0 });
  });
  afterEach(() => {
    other.$client.close();
    db.$client.close();
    tmp.cleanup();
  });

  it('commits what fn wrote and returns its result', () => {
    expect(inTransaction(db, () => (add('a'), 42))).toBe(42);
    expect(names(other)).toEqual(['a']);
  });

  it('rolls back and rethrows when fn throws, and works again afterwards', () => {
    expect(() =>
      inTransaction(db, () => {
        add('lost');
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(db.$client.inTransaction).toBe(false);
    inTransaction(db, () => add('kept'));
    expect(names(other)).toEqual(['kept']);
  });

  it('takes the write lock at once, so a second connection cannot write meanwhile', () => {
    inTransaction(db, () => {
      expect(() => other.$client.prepare("INSERT INTO t (name) VALUES ('x')").run()).toThrow(
        /locked|busy/i,
      );
    });
  });

  it('nests as a savepoint: an inner failure undoes only the inner writes', () => {
    inTransaction(db, () => {
      add('outer');
      expect(() =>
        inTransaction(db, () => {
          add('inner');
          throw new Error('inner fails');
        }),
      ).toThrow('inner fails');
      add('after');
    });
    expect(names(other)).toEqual(['after', 'outer']);
  });

  it('refuses a function that returns a promise, which would escape the transaction', () => {
    expect(() => inTransaction(db, async () => add('late'))).toThrow(/promise/i);
  });
});
