import type { BreakGlassQueries, FollowUpDue, FollowUpQueries, Listed, Range } from '../port';
import type { BreakGlassRow, FollowUpStep, RequestRow } from '../rows';
import { placeholders, Sql, sqlOf } from '../sql';
import { REQUEST_PENDING } from './conditions';
import type { QueryContext } from './context';

const BY_REQUEST = new Sql('SELECT * FROM break_glass_uses WHERE request_id = ?');
const REVIEW = new Sql(
  `UPDATE break_glass_uses SET reviewed_at = ?, reviewed_by = ?, verdict = ?, note = ?
    WHERE request_id = ? AND reviewed_at IS NULL`,
);
const NOT_CHASED = `reviewed_at is null AND NOT EXISTS (
  SELECT 1 FROM follow_ups f WHERE f.request_id = b.request_id AND f.step = 'review_overdue')`;
const OVERDUE = new Sql(
  `SELECT b.* FROM break_glass_uses b WHERE ${NOT_CHASED} AND b.review_due_at <= ?
    ORDER BY b.review_due_at LIMIT ?`,
);
const NEXT_OVERDUE = new Sql(
  `SELECT min(b.review_due_at) AS at FROM break_glass_uses b WHERE ${NOT_CHASED}`,
);
const USED_IN = new Sql(
  `SELECT b.*, count(*) OVER () AS total FROM break_glass_uses b
    WHERE b.used_at >= ? AND b.used_at < ? ORDER BY b.used_at, b.request_id LIMIT ?`,
);

export class SqlBreakGlassQueries implements BreakGlassQueries {
  constructor(private readonly q: QueryContext) {}

  async byRequest(requestId: string): Promise<BreakGlassRow | undefined> {
    const [raw] = await this.q.runner.rows(BY_REQUEST, [requestId]);
    return raw && this.q.t.breakGlass.map(raw);
  }

  async insert(row: BreakGlassRow): Promise<void> {
    await this.q.runner.write(...this.q.t.breakGlass.insert(row));
  }

  async review(
    requestId: string,
    r: Pick<BreakGlassRow, 'reviewedAt' | 'reviewedBy' | 'verdict' | 'note'>,
  ): Promise<boolean> {
    const changed = await this.q.runner.run(REVIEW, [
      r.reviewedAt,
      r.reviewedBy,
      r.verdict,
      r.note,
      requestId,
    ]);
    return changed > 0;
  }

  async overdue(now: number, limit: number): Promise<BreakGlassRow[]> {
    return (await this.q.runner.rows(OVERDUE, [now, limit])).map(this.q.t.breakGlass.map);
  }

  async nextOverdueAt(): Promise<number | null> {
    const [row] = await this.q.runner.rows(NEXT_OVERDUE);
    return row?.at == null ? null : Number(row.at);
  }

  async usedIn(range: Range, limit: number): Promise<Listed<BreakGlassRow>> {
    const rows = await this.q.runner.rows(USED_IN, [range.start, range.end, limit]);
    return {
      items: rows.map(this.q.t.breakGlass.map),
      total: Number(rows[0]?.total ?? 0),
    };
  }
}

const INSERT = new Sql(
  'INSERT INTO follow_ups (request_id, step, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
);
export const SENT_AT = new Sql('SELECT at FROM follow_ups WHERE request_id = ? AND step = ?');

/** Pending requests of some resources that have not had `step` yet. */
function without(resourceCount: number): string {
  return `FROM requests r WHERE r.${REQUEST_PENDING}
      AND r.resource_id IN (${placeholders(resourceCount)})
      AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.request_id = r.id AND f.step = ?)`;
}

export class SqlFollowUpQueries implements FollowUpQueries {
  constructor(private readonly q: QueryContext) {}

  async insertIfNew(requestId: string, step: FollowUpStep, at: number): Promise<boolean> {
    return (await this.q.runner.run(INSERT, [requestId, step, at])) > 0;
  }

  async sentAt(requestId: string, step: FollowUpStep): Promise<number | null> {
    const [row] = await this.q.runner.rows(SENT_AT, [requestId, step]);
    return row === undefined ? null : Number(row.at);
  }

  async pendingWithout(due: FollowUpDue): Promise<RequestRow[]> {
    if (due.resourceIds.length === 0) return [];
    const sql = sqlOf(
      `SELECT r.* ${without(due.resourceIds.length)} AND r.created_at <= ?
        ORDER BY r.created_at LIMIT ?`,
    );
    const rows = await this.q.runner.rows(sql, [
      ...due.resourceIds,
      due.step,
      due.filedBy,
      due.limit,
    ]);
    return rows.map(this.q.t.requests.map);
  }

  async oldestPendingWithout(
    resourceIds: readonly string[],
    step: FollowUpStep,
  ): Promise<number | null> {
    if (resourceIds.length === 0) return null;
    const sql = sqlOf(`SELECT min(r.created_at) AS at ${without(resourceIds.length)}`);
    const [row] = await this.q.runner.rows(sql, [...resourceIds, step]);
    return row?.at == null ? null : Number(row.at);
  }
}
