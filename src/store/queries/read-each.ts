import { sqlOf, type BoundSql, type RawRow } from '../sql';
import type { QueryContext } from './context';

/**
 * The rows of each read, in order, as `Runner.rowsOfEach` gives them; where the dialect can
 * answer them all in one statement, that statement, which PostgreSQL plans once per connection
 * instead of at every send, and which reads all of them in one snapshot. A JSON array gives its
 * rows back in the order the read sorted them in only as PostgreSQL happens to aggregate them,
 * so a caller that needs an order sorts.
 */
export async function readEach(q: QueryContext, reads: readonly BoundSql[]): Promise<RawRow[][]> {
  const { jsonRowsOfEach } = q.dialect;
  if (!jsonRowsOfEach) return q.runner.rowsOfEach(reads);
  const statement = sqlOf(jsonRowsOfEach(reads.map(([sql]) => sql.text)));
  const [row] = await q.runner.rows(
    statement,
    reads.flatMap(([, params]) => params),
  );
  return reads.map((_, i) => (row?.[`each_${i}`] ?? []) as RawRow[]);
}
