import type { GaugeQueries, OperationalGauges } from '../port';
import { Sql } from '../sql';
import { GRANT_IN_FLIGHT, OUTBOX_DEAD, OUTBOX_PENDING } from './conditions';
import type { QueryContext } from './context';

// Each reads a partial index: the rows of grants not over yet, pending or dead notifications.
const IN_FLIGHT = new Sql(
  `SELECT status,
          count(*) AS n,
          sum(CASE WHEN attempts > 0 AND status <> 'active' THEN 1 ELSE 0 END) AS retrying,
          sum(CASE WHEN status <> 'activating' AND expires_at < ? THEN 1 ELSE 0 END) AS overdue,
          min(CASE WHEN status <> 'activating' AND expires_at < ? THEN expires_at END) AS oldest
     FROM grants WHERE ${GRANT_IN_FLIGHT} GROUP BY status`,
);
const PENDING = new Sql(
  `SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE ${OUTBOX_PENDING}`,
);
const DEAD = new Sql(`SELECT count(*) AS n FROM outbox WHERE ${OUTBOX_DEAD}`);

const num = (v: unknown) => Number(v ?? 0);
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export class SqlGaugeQueries implements GaugeQueries {
  constructor(private readonly q: QueryContext) {}

  async read(now: number): Promise<OperationalGauges> {
    const [grants, [pending], [dead]] = await Promise.all([
      this.q.runner.rows(IN_FLIGHT, [now, now]),
      this.q.runner.rows(PENDING),
      this.q.runner.rows(DEAD),
    ]);
    const gauges: OperationalGauges = {
      inFlight: { activating: 0, active: 0, revoking: 0 },
      overdue: { count: 0, oldestExpiresAt: null },
      retrying: 0,
      outbox: {
        pending: num(pending?.n),
        oldestPendingAt: numOrNull(pending?.oldest),
        dead: num(dead?.n),
      },
    };
    for (const row of grants) {
      const status = String(row.status) as keyof OperationalGauges['inFlight'];
      gauges.inFlight[status] = num(row.n);
      gauges.retrying += num(row.retrying);
      gauges.overdue.count += num(row.overdue);
      const oldest = numOrNull(row.oldest);
      if (oldest !== null) {
        gauges.overdue.oldestExpiresAt = Math.min(gauges.overdue.oldestExpiresAt ?? oldest, oldest);
      }
    }
    return gauges;
  }
}
