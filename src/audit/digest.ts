import type { Config } from '../config/schema';
import type { Db } from '../store/db';
import { digestWalkStart, verifySince, type ChainCheck } from './chain';
import { businessHoursOf, businessIntervals, type BusinessHours, type Period } from './period';
import { nearestRank } from './percentile';

/** How many entries each list of the digest names before "and N more". */
export const TOP_N = 5;
export const PROBLEMS_SHOWN = 10;
/** A revoke confirmed later than this after it was due counts as late. */
export const LATE_AFTER_MS = 60_000;

/** The first few entries of a list and how many there are in all. */
export interface Listed<T> {
  items: T[];
  total: number;
}

export interface Ranked {
  key: string;
  count: number;
}

/** A grant (or the request that made or extended it) the digest points at. */
export interface GrantRef {
  grantId: string | null;
  requestId: string;
  userId: string;
  resourceId: string;
  at: number;
  kind: 'access' | 'extension';
}

export interface LongGrant {
  grantId: string;
  userId: string;
  resourceId: string;
  startsAt: number;
  heldMs: number;
  status: string;
}

export interface RevocationProblem {
  grantId: string;
  userId: string;
  resourceId: string;
  /** `stuck`: still not confirmed gone; `late`: confirmed gone, but late or after retries. */
  kind: 'stuck' | 'late';
  status: string;
  attempts: number;
  lastError: string | null;
  /** When the access should have been gone: its expiry, or when an early end was asked for. */
  dueAt: number;
  /** How long past `dueAt` it was confirmed gone (late) or is still there (stuck, as of `asOf`). */
  overrunMs: number;
}

export interface DigestStats {
  period: Period;
  timeZone: string;
  /** When it was computed: states that are still changing (stuck revokes) are as of then. */
  asOf: number;
  requests: {
    filed: number;
    approved: number;
    denied: number;
    cancelled: number;
    expired: number;
  };
  grants: {
    activated: number;
    endedOnTime: number;
    endedEarly: number;
    activationFailed: number;
  };
  /** Human decisions (approve with quorum met, or deny), auto-approvals left out; nearest-rank. */
  decisionTime: { decisions: number; medianMs: number; p90Ms: number } | null;
  topApprovers: Listed<Ranked>;
  topResources: Listed<Ranked>;
  topRequesters: Listed<Ranked>;
  selfApproved: Listed<GrantRef>;
  autoApproved: Listed<GrantRef>;
  outsideBusinessHours: Listed<GrantRef>;
  longestGrants: LongGrant[];
  revocationProblems: Listed<RevocationProblem>;
}

export interface Digest extends DigestStats {
  chain: ChainCheck;
}

export interface DigestQuery {
  period: Period;
  timeZone: string;
  businessHours: BusinessHours;
  asOf: number;
}

/**
 * The period, and the first and last audit rows inside it. Rows in the period are read by rowid
 * between those two (a sequential walk of the table) rather than looked up one by one from the
 * `at` index; the `at` bounds stay, so a clock that stepped back cannot let a row slip in.
 */
interface Scope extends Period {
  lo: number | null;
  hi: number | null;
}

const IN_PERIOD = 'a.seq BETWEEN @lo AND @hi AND a.at >= @start AND a.at < @end';

function scopeOf(db: Db, period: Period): Scope {
  const bounds = db.$client
    .prepare(
      'SELECT min(seq) AS lo, max(seq) AS hi FROM audit_events WHERE at >= @start AND at < @end',
    )
    .get(period) as { lo: number | null; hi: number | null };
  return { start: period.start, end: period.end, ...bounds };
}

/**
 * The week's numbers, from range queries on indexed timestamps (audit_events.at,
 * requests.created_at) aggregated in SQL; only the decision times and the listed rows come back
 * to JavaScript. Everything counts what happened inside the period: a request decided this week
 * counts under this week's outcome, whenever it was filed.
 */
export function computeDigestStats(db: Db, q: DigestQuery): DigestStats {
  const sql = db.$client;
  const range = scopeOf(db, q.period);

  const byAction = new Map(
    (
      sql
        .prepare(
          `SELECT action, count(*) AS n FROM audit_events a
            WHERE ${IN_PERIOD} AND action IN ('request.approved', 'request.denied',
              'request.cancelled', 'request.expired', 'grant.activated', 'grant.failed')
            GROUP BY action`,
        )
        .all(range) as { action: string; n: number }[]
    ).map((r) => [r.action, r.n]),
  );
  const count = (action: string) => byAction.get(action) ?? 0;

  const ended = new Map(
    (
      sql
        .prepare(
          `SELECT json_extract(details, '$.reason') AS reason, count(*) AS n FROM audit_events a
            WHERE ${IN_PERIOD} AND action = 'grant.revoked' GROUP BY reason`,
        )
        .all(range) as { reason: string | null; n: number }[]
    ).map((r) => [r.reason, r.n]),
  );

  const filed = (
    sql
      .prepare(
        'SELECT count(*) AS n FROM requests WHERE created_at >= @start AND created_at < @end',
      )
      .get(range) as { n: number }
  ).n;

  const decisionTimes = sql
    .prepare(
      `SELECT r.decided_at - r.created_at FROM audit_events a JOIN requests r ON r.id = a.request_id
        WHERE ${IN_PERIOD} AND a.action IN ('request.approved', 'request.denied')
          AND r.auto_approved = 0
        ORDER BY 1`,
    )
    .pluck()
    .all(range) as number[];

  return {
    period: q.period,
    timeZone: q.timeZone,
    asOf: q.asOf,
    requests: {
      filed,
      approved: count('request.approved'),
      denied: count('request.denied'),
      cancelled: count('request.cancelled'),
      expired: count('request.expired'),
    },
    grants: {
      activated: count('grant.activated'),
      endedOnTime: ended.get('expired') ?? 0,
      endedEarly: (ended.get('revoked_by_user') ?? 0) + (ended.get('revoked_by_admin') ?? 0),
      activationFailed: count('grant.failed'),
    },
    decisionTime:
      decisionTimes.length === 0
        ? null
        : {
            decisions: decisionTimes.length,
            medianMs: nearestRank(decisionTimes, 50),
            p90Ms: nearestRank(decisionTimes, 90),
          },
    topApprovers: ranked(
      db,
      `SELECT actor AS key, count(*) AS n FROM audit_events a
        WHERE ${IN_PERIOD} AND action IN ('approval.recorded', 'request.denied') GROUP BY actor`,
      range,
    ),
    topResources: ranked(
      db,
      `SELECT resource_id AS key, count(*) AS n FROM requests
        WHERE created_at >= @start AND created_at < @end GROUP BY resource_id`,
      range,
    ),
    topRequesters: ranked(
      db,
      `SELECT requester AS key, count(*) AS n FROM requests
        WHERE created_at >= @start AND created_at < @end GROUP BY requester`,
      range,
    ),
    selfApproved: approvedRefs(
      db,
      range,
      `r.auto_approved = 0 AND EXISTS (SELECT 1 FROM approvals p WHERE p.request_id = r.id
         AND p.approver = r.requester AND p.decision = 'approve')`,
    ),
    autoApproved: approvedRefs(db, range, 'r.auto_approved = 1'),
    outsideBusinessHours: outsideHours(db, q, range),
    longestGrants: longest(db, range),
    revocationProblems: revocationProblems(db, range, q.asOf),
  };
}

/**
 * The digest of `period` as of `asOf`: the numbers, and the audit chain verified from where the
 * last posted digest left it.
 */
export function buildDigest(
  db: Db,
  config: Config,
  period: Period,
  asOf: number,
  onProgress?: (checked: number) => void,
): Digest {
  // One read transaction: every number and the chain come from the same state of the file.
  return db.$client
    .transaction(() => {
      const stats = computeDigestStats(db, {
        period,
        timeZone: config.timezone,
        businessHours: businessHoursOf(config),
        asOf,
      });
      const chain = verifySince(db, digestWalkStart(db, period.start), onProgress);
      return { ...stats, chain };
    })
    .deferred();
}

/** The top entries of a `key, n` grouping, and how many groups there are. */
function ranked(db: Db, grouping: string, params: Scope): Listed<Ranked> {
  const rows = db.$client
    .prepare(
      `SELECT key, n, count(*) OVER () AS groups FROM (${grouping})
        ORDER BY n DESC, key LIMIT ${TOP_N}`,
    )
    .all(params) as { key: string; n: number; groups: number }[];
  return { items: rows.map((r) => ({ key: r.key, count: r.n })), total: rows[0]?.groups ?? 0 };
}

/** Rows of a listing query carry the size of the whole list (`count(*) OVER ()`) in `total`. */
type Counted<T> = T & { total: number };

function listed<T>(rows: Counted<T>[], item: (row: Counted<T>) => T): Listed<T> {
  return { items: rows.map(item), total: rows[0]?.total ?? 0 };
}

const grantRef = (r: GrantRef): GrantRef => ({
  grantId: r.grantId,
  requestId: r.requestId,
  userId: r.userId,
  resourceId: r.resourceId,
  at: r.at,
  kind: r.kind,
});

/** Requests approved in the period that match `condition` (on `r`, the request). */
function approvedRefs(db: Db, range: Scope, condition: string): Listed<GrantRef> {
  const rows = db.$client
    .prepare(
      `SELECT COALESCE(r.grant_id, g.id) AS grantId, r.id AS requestId, r.requester AS userId,
              r.resource_id AS resourceId, a.at, r.kind, count(*) OVER () AS total
         FROM audit_events a
         JOIN requests r ON r.id = a.request_id
         LEFT JOIN grants g ON g.request_id = r.id
        WHERE ${IN_PERIOD} AND a.action = 'request.approved' AND ${condition}
        ORDER BY a.at LIMIT ${TOP_N}`,
    )
    .all(range) as Counted<GrantRef>[];
  return listed(rows, grantRef);
}

/**
 * Grants activated outside business hours. The business-hours intervals are worked out in the
 * configured zone first (a handful per week), so SQL only compares timestamps with them.
 */
function outsideHours(db: Db, q: DigestQuery, range: Scope): Listed<GrantRef> {
  const intervals = businessIntervals(q.period, q.businessHours, q.timeZone);
  const inside = intervals.map((_, i) => `(a.at >= @s${i} AND a.at < @e${i})`).join(' OR ');
  const params: Record<string, number | null> = { ...range };
  intervals.forEach((interval, i) => {
    params[`s${i}`] = interval.start;
    params[`e${i}`] = interval.end;
  });
  const rows = db.$client
    .prepare(
      `SELECT g.id AS grantId, g.request_id AS requestId, g.user_id AS userId,
              g.resource_id AS resourceId, a.at, 'access' AS kind, count(*) OVER () AS total
         FROM audit_events a JOIN grants g ON g.id = a.grant_id
        WHERE ${IN_PERIOD} AND a.action = 'grant.activated'
          ${inside ? `AND NOT (${inside})` : ''}
        ORDER BY a.at LIMIT ${TOP_N}`,
    )
    .all(params) as Counted<GrantRef>[];
  return listed(rows, grantRef);
}

/** Grants activated in the period, longest held (or granted, while still running) first. */
function longest(db: Db, range: Scope): LongGrant[] {
  return db.$client
    .prepare(
      `SELECT g.id AS grantId, g.user_id AS userId, g.resource_id AS resourceId,
              g.starts_at AS startsAt, COALESCE(g.ended_at, g.expires_at) - g.starts_at AS heldMs,
              g.status
         FROM audit_events a JOIN grants g ON g.id = a.grant_id
        WHERE ${IN_PERIOD} AND a.action = 'grant.activated'
        ORDER BY heldMs DESC, g.id LIMIT ${TOP_N}`,
    )
    .all(range) as LongGrant[];
}

/** When an early end (revoke, failed activation) of grant `g` was asked for. */
const ASKED_AT = `(SELECT max(e.at) FROM audit_events e
    WHERE e.grant_id = g.id AND e.action IN ('grant.revoke_requested', 'grant.failed'))`;

/**
 * When a grant's access should have been gone: its expiry, or the moment an early end was asked
 * for, whichever came first.
 */
const DUE_AT = `MIN(COALESCE(g.expires_at, 9e15), COALESCE(${ASKED_AT}, 9e15))`;

/**
 * Revokes that are overdue now (still retrying, failing, or never started) and revokes
 * confirmed in the period but late or after retries; the longest overrun first.
 */
function revocationProblems(db: Db, range: Scope, asOf: number): Listed<RevocationProblem> {
  const rows = db.$client
    .prepare(
      `WITH stuck AS (
         SELECT g.id, g.user_id, g.resource_id, 'stuck' AS kind, g.status, g.attempts,
                g.last_error, ${DUE_AT} AS due_at, @asOf AS settled_at
           FROM grants g
          -- the literal status list and next_attempt_at let SQLite use the grants_due index
          WHERE g.status in ('activating', 'active', 'revoking') AND g.next_attempt_at IS NOT NULL
            AND (g.status = 'revoking'
                 OR (g.status = 'active' AND g.expires_at <= @asOf - ${LATE_AFTER_MS}))
       ),
       late AS (
         SELECT g.id, g.user_id, g.resource_id, 'late' AS kind, g.status,
                json_extract(a.details, '$.attempts') AS attempts, NULL AS last_error,
                CASE WHEN json_extract(a.details, '$.reason') = 'expired' THEN g.expires_at
                     ELSE ${DUE_AT} END AS due_at,
                a.at AS settled_at
           FROM audit_events a JOIN grants g ON g.id = a.grant_id
          WHERE ${IN_PERIOD} AND a.action = 'grant.revoked'
       ),
       problems AS (
         SELECT * FROM stuck
          WHERE attempts > 0 OR last_error IS NOT NULL OR settled_at - due_at > ${LATE_AFTER_MS}
         UNION ALL
         SELECT * FROM late WHERE attempts > 1 OR settled_at - due_at > ${LATE_AFTER_MS}
       )
       SELECT id AS grantId, user_id AS userId, resource_id AS resourceId, kind, status,
              attempts, last_error AS lastError, due_at AS dueAt,
              MAX(0, settled_at - due_at) AS overrunMs, count(*) OVER () AS total
         FROM problems ORDER BY overrunMs DESC, grantId LIMIT ${PROBLEMS_SHOWN}`,
    )
    .all({ ...range, asOf }) as Counted<RevocationProblem>[];
  return listed(rows, (r) => ({
    grantId: r.grantId,
    userId: r.userId,
    resourceId: r.resourceId,
    kind: r.kind,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError,
    dueAt: r.dueAt,
    overrunMs: r.overrunMs,
  }));
}
