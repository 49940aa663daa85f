import Database from 'better-sqlite3';
import { nearestRank, registerNearestRank } from '../../src/store/sqlite/nearest-rank';

describe('nearestRank', () => {
  it('picks the value at rank ceil(p/100 · n), never interpolating', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRank(values, 50)).toBe(5);
    expect(nearestRank(values, 90)).toBe(9);
    expect(nearestRank(values, 91)).toBe(10);
    expect(nearestRank(values, 100)).toBe(10);
    expect(nearestRank(values, 0)).toBe(1);
    expect(nearestRank([42], 90)).toBe(42);
    expect(() => nearestRank([], 50)).toThrow(RangeError);
  });

  it('is the SQLite aggregate nearest_rank, over unsorted rows, nulls left out, null over none', () => {
    const db = new Database(':memory:');
    try {
      registerNearestRank(db);
      db.exec('CREATE TABLE t (v INTEGER)');
      const rank = (p: number) =>
        db.prepare('SELECT nearest_rank(v, ?) FROM t').pluck().get(p) as number | null;
      expect(rank(50)).toBeNull();
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      for (const v of [70, 20, null, 100, 40, 10, 90, 30, 60, 80, 50]) insert.run(v);
      expect(rank(50)).toBe(50);
      expect(rank(90)).toBe(90);
      expect(rank(91)).toBe(100);
    } finally {
      db.close();
    }
  });
});
