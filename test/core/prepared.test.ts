import { join } from 'node:path';
import { openDb, type Db } from '../../src/store/db';
import { preparedOn } from '../../src/store/prepared';
import { tempDir } from '../support/tmp';

const countGrants = (db: Db) => db.$client.prepare('SELECT count(*) FROM grants').pluck();

describe('preparedOn', () => {
  const tmp = tempDir();
  const a = openDb(join(tmp.dir, 'a.db'));
  const b = openDb(join(tmp.dir, 'b.db'));
  afterAll(() => {
    a.$client.close();
    b.$client.close();
    tmp.cleanup();
  });

  it('builds once per connection and keeps what it built', () => {
    const build = jest.fn(countGrants);
    const first = preparedOn(a, build);
    expect(preparedOn(a, build)).toBe(first);
    expect(build).toHaveBeenCalledTimes(1);
    expect(preparedOn(b, build)).not.toBe(first);
    expect(build).toHaveBeenCalledTimes(2);
    expect(first.get()).toBe(0);
  });

  it('keeps the queries of different builders apart', () => {
    const other = (db: Db) => db.$client.prepare('SELECT count(*) FROM requests').pluck();
    expect(preparedOn(a, other)).not.toBe(preparedOn(a, countGrants));
  });
});
