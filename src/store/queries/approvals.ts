import type { ApprovalQueries } from '../port';
import type { ApprovalRow } from '../rows';
import { placeholders, Sql, sqlOf } from '../sql';
import type { QueryContext } from './context';

export const APPROVALS_OF = new Sql('SELECT * FROM approvals WHERE request_id = ? ORDER BY id');
const INSERT = new Sql(
  'INSERT INTO approvals (request_id, approver, decision, reason, created_at) VALUES (?, ?, ?, ?, ?)',
);

export class SqlApprovalQueries implements ApprovalQueries {
  constructor(private readonly q: QueryContext) {}

  async of(requestId: string): Promise<ApprovalRow[]> {
    return (await this.q.runner.rows(APPROVALS_OF, [requestId])).map(this.q.t.approvals.map);
  }

  async approvingCounts(requestIds: readonly string[]): Promise<Map<string, number>> {
    if (requestIds.length === 0) return new Map();
    const rows = await this.q.runner.rows(
      sqlOf(
        `SELECT request_id, count(*) AS n FROM approvals
          WHERE request_id IN (${placeholders(requestIds.length)}) AND decision = 'approve'
          GROUP BY request_id`,
      ),
      requestIds,
    );
    return new Map(rows.map((r) => [String(r.request_id), Number(r.n)]));
  }

  async insert(row: Omit<ApprovalRow, 'id'>): Promise<void> {
    await this.q.runner.write(INSERT, [
      row.requestId,
      row.approver,
      row.decision,
      row.reason,
      row.createdAt,
    ]);
  }
}
