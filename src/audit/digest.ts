import type { Config } from '../config/schema';
import type {
  BreakGlassRow,
  DecisionTimes,
  GrantRef,
  Listed,
  LongGrant,
  Queries,
  Ranked,
  RevocationProblem,
  Store,
} from '../store';
import { activitySummary } from './activity';
import { digestWalkStart, verifySince, withRecordedBreak, type ChainCheck } from './chain';
import type { CheckpointSeal } from './checkpoint-seal';
import { businessHoursOf, businessIntervals, type BusinessHours, type Period } from './period';

/** How many entries each list of the digest names before "and N more". */
export const TOP_N = 5;
export const PROBLEMS_SHOWN = 10;
/** Break-glass uses are listed one by one: each needs its review seen. */
export const BREAK_GLASS_SHOWN = 25;
/** A revoke confirmed later than this after it was due counts as late. */
export const LATE_AFTER_MS = 60_000;

export type { BreakGlassRow, GrantRef, Listed, LongGrant, Ranked, RevocationProblem };

/** What a grant's access was used for, as its provider reported at the revoke. */
export interface ActivityRef {
  grantId: string;
  userId: string;
  resourceId: string;
  at: number;
  summary: string;
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
  decisionTime: DecisionTimes | null;
  topApprovers: Listed<Ranked>;
  topResources: Listed<Ranked>;
  topRequesters: Listed<Ranked>;
  selfApproved: Listed<GrantRef>;
  autoApproved: Listed<GrantRef>;
  outsideBusinessHours: Listed<GrantRef>;
  longestGrants: LongGrant[];
  /** What grants revoked this week were used for, where their provider could say. */
  activity: Listed<ActivityRef>;
  revocationProblems: Listed<RevocationProblem>;
  /** Every use of break-glass in the period, with its review as of `asOf`. */
  breakGlass: Listed<BreakGlassRow>;
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

/** Counted from the audit: the failed activations. Everything else is read from its rows. */
const COUNTED_ACTIONS = ['grant.failed'] as const;

/**
 * The week's numbers, from range queries on indexed timestamps (audit_events.at,
 * requests.created_at and decided_at, grants.activated_at and end_recorded_at) aggregated in
 * SQL; only the listed rows come back to JavaScript. Everything counts what happened inside the
 * period: a request decided this week counts under this week's outcome, whenever it was filed.
 */
export async function computeDigestStats(q: Queries, query: DigestQuery): Promise<DigestStats> {
  const r = q.reports;
  const scope = query.period;
  // One after another: a snapshot is one connection, which runs one query at a time anyway.
  const byAction = await r.countsByAction(scope, COUNTED_ACTIONS);
  const { endsByReason: ended, activity: reported } = await r.revoked(scope, TOP_N);
  const filed = await r.requestsFiled(scope);
  const decided = await r.decided(scope);
  const count = (action: string) => byAction.get(action) ?? 0;
  const inside = businessIntervals(query.period, query.businessHours, query.timeZone);
  const topApprovers = await r.topApprovers(scope, TOP_N);
  const topResources = await r.topResources(scope, TOP_N);
  const topRequesters = await r.topRequesters(scope, TOP_N);
  const selfApproved = await r.selfApproved(scope, TOP_N);
  const autoApproved = await r.autoApproved(scope, TOP_N);
  const activations = await r.activations(scope, inside, TOP_N);
  const longestGrants = await r.longestGrants(scope, TOP_N);
  const activity = {
    total: reported.total,
    items: reported.items.map(({ details, ...ref }) => ({
      ...ref,
      summary: activitySummary(details) ?? 'activity recorded',
    })),
  };
  const revocationProblems = await r.revocationProblems(
    scope,
    query.asOf,
    LATE_AFTER_MS,
    PROBLEMS_SHOWN,
  );
  const breakGlass = await q.breakGlass.usedIn(query.period, BREAK_GLASS_SHOWN);
  return {
    period: query.period,
    timeZone: query.timeZone,
    asOf: query.asOf,
    requests: {
      filed,
      ...decided.outcomes,
    },
    grants: {
      activated: activations.count,
      endedOnTime: ended.get('expired') ?? 0,
      endedEarly: (ended.get('revoked_by_user') ?? 0) + (ended.get('revoked_by_admin') ?? 0),
      activationFailed: count('grant.failed'),
    },
    decisionTime: decided.times,
    topApprovers,
    topResources,
    topRequesters,
    selfApproved,
    autoApproved,
    outsideBusinessHours: activations.outside,
    longestGrants,
    activity,
    revocationProblems,
    breakGlass,
  };
}

/**
 * The digest of `period` as of `asOf`: the numbers, from one consistent view, and the audit
 * chain verified from the verified head (with `seal`) or where the last posted digest left it.
 */
export async function buildDigest(
  store: Store,
  config: Config,
  period: Period,
  asOf: number,
  options: { onProgress?: (checked: number) => void; seal?: CheckpointSeal } = {},
): Promise<Digest> {
  const { stats, start } = await store.snapshot(async (q) => ({
    stats: await computeDigestStats(q, {
      period,
      timeZone: config.timezone,
      businessHours: businessHoursOf(config),
      asOf,
    }),
    start: await digestWalkStart(q, period.start, options.seal),
  }));
  const chain: ChainCheck =
    'forged' in start
      ? { checked: 0, intact: false, firstBroken: start.forged }
      : withRecordedBreak(
          await verifySince(store, start.from, options.onProgress, start.also),
          start.checkpoint,
        );
  return { ...stats, chain };
}
