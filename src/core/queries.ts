import type { ApprovalRow, CoreContext, GrantRow, RequestRow } from './context';

/**
 * How many of a person's pending requests and of their grants an overview carries, as lists
 * show them: the newest requests, the grants ending soonest. A person can hold hundreds (a
 * pipeline's identity, say), and Home is drawn again after every change of theirs.
 */
export const OVERVIEW_LIMIT = 10;

export interface UserOverview {
  /** The newest pending requests, at most OVERVIEW_LIMIT. */
  pending: RequestRow[];
  /** How many are pending in all. */
  pendingTotal: number;
  /** The grants not over yet that end soonest, at most OVERVIEW_LIMIT. */
  grants: GrantRow[];
  /** How many grants are not over yet in all. */
  grantsTotal: number;
}

/** A person's pending requests and their grants that are not over yet. */
export async function overviewOf(ctx: CoreContext, userId: string): Promise<UserOverview> {
  return {
    pending: await ctx.store.requests.newestPendingOf(userId, OVERVIEW_LIMIT),
    pendingTotal: await ctx.store.requests.pendingCountOf(userId),
    grants: await ctx.store.grants.soonestLiveOf(userId, OVERVIEW_LIMIT),
    grantsTotal: await ctx.store.grants.liveCountOf(userId),
  };
}

export interface Awaiting {
  request: RequestRow;
  /** Approvals it has so far. */
  approvals: number;
}

/**
 * Pending requests this person could decide now, oldest first: on the resources the policy lets
 * them approve (their own requests only where self-approval is allowed), not decided by them yet.
 * The store reads only those, so the cost follows `limit`, not every pending request.
 */
export async function awaitingDecisionBy(
  ctx: CoreContext,
  userId: string,
  limit = 20,
): Promise<Awaiting[]> {
  const { others, own } = await ctx.policy.approvable(userId);
  const requests = await ctx.store.requests.awaitingDecision({
    userId,
    resourceIds: others,
    selfApproval: own,
    limit,
  });
  const counts = await ctx.store.approvals.approvingCounts(requests.map((r) => r.id));
  return requests.map((request) => ({ request, approvals: counts.get(request.id) ?? 0 }));
}

export type { ApprovalRow };
