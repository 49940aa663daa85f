import type {
  Activations,
  Decided,
  GrantRef,
  Listed,
  LongGrant,
  Range,
  Ranked,
  ReportQueries,
  RevocationProblem,
  RevokedInPeriod,
} from '../port';
import type { Dialect } from '../dialect';
import { placeholders, Sql, sqlOf, type Param, type RawRow } from '../sql';
import { GRANT_IN_FLIGHT } from './conditions';
import type { QueryContext } from './context';

/**
 * Every audit read of a report names its actions, so the (action, at) index takes it straight to
 * the period's rows of those actions: a dense week costs the rows counted, not the whole week.
 */
const IN_PERIOD = 'a.at >= ? AND a.at < ?';
const inPeriod = (s: Range): Param[] => [s.start, s.end];
const FILED = new Sql(
  'SELECT count(*) AS n FROM requests WHERE created_at >= ? AND created_at < ?',
);
/**
 * A request decided in the period: its decision (approved, denied, cancelled or expired, the
 * status it keeps from then on) was recorded at decided_at, with the decision's audit event.
 * The requests_decided index holds what the digest reads of it.
 */
const DECIDED = 'r.decided_at >= ? AND r.decided_at < ?';
/**
 * A grant whose activation (its `grant.activated` event) was recorded in the period, at
 * activated_at: the grants_activated index holds what the digest reads of it.
 */
const ACTIVATED = 'g.activated_at >= ? AND g.activated_at < ?';
/** Far beyond any real timestamp, for "no such moment" in a comparison. */
const NEVER = '9000000000000000';

const num = (v: unknown) => Number(v ?? 0);
const str = (v: unknown) => String(v);
const strOrNull = (v: unknown) => (v === null || v === undefined ? null : String(v));

function grantRef(r: RawRow): GrantRef {
  return {
    grantId: strOrNull(r.grant_id),
    requestId: str(r.request_id),
    userId: str(r.user_id),
    resourceId: str(r.resource_id),
    at: num(r.at),
    kind: r.kind === 'extension' ? 'extension' : 'access',
  };
}

function listed<T>(rows: RawRow[], item: (row: RawRow) => T): Listed<T> {
  return { items: rows.map(item), total: num(rows[0]?.total) };
}

interface DialectStatements {
  decided: Sql;
  revokedEnds: Sql;
  revokedReported: Sql;
  problems: Sql;
}

const perDialect = new WeakMap<Dialect, DialectStatements>();

/** The statements written with the dialect's own functions, built once per dialect. */
function statementsFor(d: Dialect): DialectStatements {
  const cached = perDialect.get(d);
  if (cached) return cached;
  // The period's decisions by outcome, and how long the human ones took (approve with quorum met,
  // or deny; auto-approvals and break-glass left out): their count and two percentiles, computed
  // where the rows are, in one pass.
  const ms = 'r.decided_at - r.created_at';
  const human = `r.status IN ('approved', 'denied') AND NOT r.auto_approved
    AND r.id NOT IN (SELECT b.request_id FROM break_glass_uses b)`;
  const decided = new Sql(
    `SELECT count(*) FILTER (WHERE r.status = 'approved') AS approved,
            count(*) FILTER (WHERE r.status = 'denied') AS denied,
            count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled,
            count(*) FILTER (WHERE r.status = 'expired') AS expired,
            count(*) FILTER (WHERE ${human}) AS decisions,
            ${d.nearestRank(ms, 50)} FILTER (WHERE ${human}) AS median_ms,
            ${d.nearestRank(ms, 90)} FILTER (WHERE ${human}) AS p90_ms
       FROM requests r WHERE ${DECIDED}`,
  );
  // A week's revokes are the grants whose end was recorded in it: counted from the columns the
  // grants_end_recorded index holds, without reading an audit event.
  const revokedEnds = new Sql(
    `SELECT end_reason AS reason, count(*) AS n,
            sum(CASE WHEN activity_reported THEN 1 ELSE 0 END) AS reported
       FROM grants WHERE end_recorded_at >= ? AND end_recorded_at < ?
      GROUP BY 1`,
  );
  // The latest revokes that reported activity, newest first, each with its event (which holds the
  // activity): read back through the index until enough are found.
  const revokedReported = new Sql(
    `SELECT a.seq, a.at, a.details, g.id, g.user_id, g.resource_id
       FROM grants g JOIN audit_events a ON a.grant_id = g.id AND a.action = 'grant.revoked'
      WHERE g.end_recorded_at >= ? AND g.end_recorded_at < ? AND g.activity_reported
      ORDER BY g.end_recorded_at DESC, a.seq DESC LIMIT ?`,
  );
  // When a grant's access should have been gone: its expiry, or the moment its end began
  // (an early end asked for, activation given up), whichever came first. An expiry taken up
  // ahead of its moment (the sweeper books it early) was due at the expiry.
  const dueAt = (g: string) =>
    `CASE WHEN ${g}.end_reason = 'expired' THEN ${g}.expires_at ELSE ${d.least(
      `coalesce(${g}.expires_at, ${NEVER})`,
      `coalesce(${g}.end_asked_at, ${NEVER})`,
    )} END`;
  const problems = new Sql(
    `WITH stuck AS (
         SELECT g.id, g.user_id, g.resource_id, 'stuck' AS kind, g.status, g.attempts,
                g.last_error, ${dueAt('g')} AS due_at, CAST(? AS BIGINT) AS settled_at
           FROM grants g
          -- the literal status list and next_attempt_at let SQLite use the grants_due index
          WHERE g.${GRANT_IN_FLIGHT} AND g.next_attempt_at IS NOT NULL
            AND (g.status = 'revoking' OR (g.status = 'active' AND g.expires_at <= ?))
       ),
       -- Found from the columns grants_end_recorded holds; only the late ones are read in full.
       ended AS (
         SELECT e.id, e.attempts + 1 AS attempts, ${dueAt('e')} AS due_at,
                e.end_recorded_at AS settled_at
           FROM grants e WHERE e.end_recorded_at >= ? AND e.end_recorded_at < ?
       ),
       late AS (
         SELECT g.id, g.user_id, g.resource_id, 'late' AS kind, g.status, e.attempts,
                NULL AS last_error, e.due_at, e.settled_at
           FROM ended e JOIN grants g ON g.id = e.id
          WHERE e.attempts > 1 OR e.settled_at - e.due_at > ?
       ),
       problems AS (
         SELECT * FROM stuck WHERE attempts > 0 OR last_error IS NOT NULL OR settled_at - due_at > ?
         UNION ALL
         SELECT * FROM late
       )
       SELECT id, user_id, resource_id, kind, status, attempts, last_error, due_at,
              ${d.greatest('0', 'settled_at - due_at')} AS overrun_ms, count(*) OVER () AS total
         FROM problems ORDER BY overrun_ms DESC, id LIMIT ?`,
  );
  const found = { decided, revokedEnds, revokedReported, problems };
  perDialect.set(d, found);
  return found;
}

export class SqlReportQueries implements ReportQueries {
  private readonly statements: DialectStatements;

  constructor(private readonly q: QueryContext) {
    this.statements = statementsFor(q.dialect);
  }

  async countsByAction(s: Range, actions: readonly string[]) {
    const rows = await this.q.runner.rows(
      sqlOf(
        `SELECT action, count(*) AS n FROM audit_events a
          WHERE ${IN_PERIOD} AND a.action IN (${placeholders(actions.length)}) GROUP BY action`,
      ),
      [...inPeriod(s), ...actions],
    );
    return new Map(rows.map((r) => [str(r.action), num(r.n)]));
  }

  async revoked(s: Range, top: number): Promise<RevokedInPeriod> {
    const { revokedEnds, revokedReported } = this.statements;
    const ends = await this.q.runner.rows(revokedEnds, inPeriod(s));
    // Every revoke's grant row exists (grants are never deleted), so this is how many the
    // listing would find.
    const total = ends.reduce((sum, r) => sum + num(r.reported), 0);
    const latest =
      total === 0 ? [] : await this.q.runner.rows(revokedReported, [...inPeriod(s), top]);
    return {
      endsByReason: new Map(ends.map((r) => [strOrNull(r.reason), num(r.n)])),
      activity: {
        total,
        items: latest.map((r) => ({
          grantId: str(r.id),
          userId: str(r.user_id),
          resourceId: str(r.resource_id),
          at: num(r.at),
          details: str(r.details),
        })),
      },
    };
  }

  async requestsFiled(s: Range) {
    const [row] = await this.q.runner.rows(FILED, [s.start, s.end]);
    return num(row?.n);
  }

  async decided(s: Range): Promise<Decided> {
    const [row = {}] = await this.q.runner.rows(this.statements.decided, [s.start, s.end]);
    const decisions = num(row.decisions);
    return {
      outcomes: {
        approved: num(row.approved),
        denied: num(row.denied),
        cancelled: num(row.cancelled),
        expired: num(row.expired),
      },
      times:
        decisions === 0
          ? null
          : { decisions, medianMs: num(row.median_ms), p90Ms: num(row.p90_ms) },
    };
  }

  /** The top entries of a `key, n` grouping, and how many groups there are. */
  private async ranked(grouping: string, params: Param[], top: number): Promise<Listed<Ranked>> {
    const rows = await this.q.runner.rows(
      sqlOf(
        `SELECT key, n, count(*) OVER () AS total FROM (${grouping}) AS grouped
          ORDER BY n DESC, key LIMIT ?`,
      ),
      [...params, top],
    );
    return listed(rows, (r) => ({ key: str(r.key), count: num(r.n) }));
  }

  topApprovers(s: Range, top: number) {
    return this.ranked(
      `SELECT actor AS key, count(*) AS n FROM audit_events a
        WHERE ${IN_PERIOD} AND action IN ('approval.recorded', 'request.denied') GROUP BY actor`,
      inPeriod(s),
      top,
    );
  }

  topResources(s: Range, top: number) {
    return this.ranked(
      `SELECT resource_id AS key, count(*) AS n FROM requests
        WHERE created_at >= ? AND created_at < ? GROUP BY resource_id`,
      [s.start, s.end],
      top,
    );
  }

  topRequesters(s: Range, top: number) {
    return this.ranked(
      `SELECT requester AS key, count(*) AS n FROM requests
        WHERE created_at >= ? AND created_at < ? GROUP BY requester`,
      [s.start, s.end],
      top,
    );
  }

  /**
   * Requests approved in the period that match `condition` (on `r`, the request): counted on
   * their own, so only the listed ones are joined to their grants.
   */
  private async approved(s: Range, condition: string, top: number) {
    const approved = `FROM requests r WHERE ${DECIDED} AND r.status = 'approved' AND ${condition}`;
    const rows = await this.q.runner.rows(
      sqlOf(
        `SELECT coalesce(r.grant_id, g.id) AS grant_id, r.id AS request_id, r.requester AS user_id,
                r.resource_id, r.decided_at AS at, r.kind, (SELECT count(*) ${approved}) AS total
           FROM (SELECT r.* ${approved} ORDER BY r.decided_at, r.id LIMIT ?) AS r
           LEFT JOIN grants g ON g.request_id = r.id
          ORDER BY r.decided_at, r.id`,
      ),
      [s.start, s.end, s.start, s.end, top],
    );
    return listed(rows, grantRef);
  }

  selfApproved(s: Range, top: number) {
    return this.approved(
      s,
      // self_approved first: the requests_self_approved index holds only the few marked.
      'r.self_approved AND NOT r.auto_approved',
      top,
    );
  }

  autoApproved(s: Range, top: number) {
    return this.approved(s, 'r.auto_approved', top);
  }

  /**
   * Activations recorded in the period, counted with those outside business hours from the
   * grants_activated index alone; only the listed ones read the rest of their grant.
   */
  async activations(s: Range, inside: readonly Range[], top: number): Promise<Activations> {
    const within = inside.map(() => '(g.activated_at >= ? AND g.activated_at < ?)').join(' OR ');
    const outside = within ? `NOT (${within})` : '1 = 1';
    const params = [...inPeriod(s), ...inside.flatMap((i) => [i.start, i.end])];
    const [counted = {}] = await this.q.runner.rows(
      sqlOf(
        `SELECT count(*) AS n, count(*) FILTER (WHERE ${outside}) AS outside
           FROM grants g WHERE ${ACTIVATED}`,
      ),
      [...params.slice(2), ...inPeriod(s)],
    );
    const total = num(counted.outside);
    const rows =
      total === 0
        ? []
        : await this.q.runner.rows(
            sqlOf(
              `SELECT g.id AS grant_id, g.request_id, g.user_id, g.resource_id, a.at,
                      'access' AS kind
                 FROM (SELECT g.activated_at AS at, g.id FROM grants g
                        WHERE ${ACTIVATED} AND ${outside}
                        ORDER BY g.activated_at, g.id LIMIT ?) AS a
                 JOIN grants g ON g.id = a.id
                ORDER BY a.at, a.id`,
            ),
            [...params, top],
          );
    return { count: num(counted.n), outside: { items: rows.map(grantRef), total } };
  }

  /** Ranked from the grants_activated index alone; only the listed ones read the rest of their grant. */
  async longestGrants(s: Range, top: number): Promise<LongGrant[]> {
    const rows = await this.q.runner.rows(
      sqlOf(
        `SELECT g.id, g.user_id, g.resource_id, g.starts_at, l.held_ms, g.status
           FROM (SELECT g.id, coalesce(g.ended_at, g.expires_at) - g.starts_at AS held_ms
                   FROM grants g WHERE ${ACTIVATED} ORDER BY held_ms DESC, g.id LIMIT ?) AS l
           JOIN grants g ON g.id = l.id
          ORDER BY l.held_ms DESC, l.id`,
      ),
      [...inPeriod(s), top],
    );
    return rows.map((r) => ({
      grantId: str(r.id),
      userId: str(r.user_id),
      resourceId: str(r.resource_id),
      startsAt: num(r.starts_at),
      heldMs: num(r.held_ms),
      status: str(r.status),
    }));
  }

  async revocationProblems(
    s: Range,
    asOf: number,
    lateAfterMs: number,
    top: number,
  ): Promise<Listed<RevocationProblem>> {
    const rows = await this.q.runner.rows(this.statements.problems, [
      asOf,
      asOf - lateAfterMs,
      ...inPeriod(s),
      lateAfterMs,
      lateAfterMs,
      top,
    ]);
    return listed(rows, (r) => ({
      grantId: str(r.id),
      userId: str(r.user_id),
      resourceId: str(r.resource_id),
      kind: r.kind === 'late' ? 'late' : 'stuck',
      status: str(r.status),
      attempts: num(r.attempts),
      lastError: strOrNull(r.last_error),
      dueAt: num(r.due_at),
      overrunMs: num(r.overrun_ms),
    }));
  }
}
