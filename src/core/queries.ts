import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../store/db';
import { requestPending } from '../store/partial-index';
import { preparedOn } from '../store/prepared';
import { approvals, grants, requests } from '../store/schema';
import type { ApprovalRow, CoreContext, GrantRow, RequestRow } from './context';

const requestById = (db: Db) =>
  db
    .select()
    .from(requests)
    .where(eq(requests.id, sql.placeholder('id')))
    .prepare();

/** Prepared once per connection: every decision and every approver message reads a request. */
export function getRequest(ctx: CoreContext, id: string): RequestRow | undefined {
  return preparedOn(ctx.db, requestById).get({ id });
}

export function approvalsOf(ctx: CoreContext, requestId: string): ApprovalRow[] {
  return ctx.db
    .select()
    .from(approvals)
    .where(eq(approvals.requestId, requestId))
    .orderBy(asc(approvals.id))
    .all();
}

export function grantOfRequest(ctx: CoreContext, requestId: string): GrantRow | undefined {
  return ctx.db.select().from(grants).where(eq(grants.requestId, requestId)).get();
}

export interface UserOverview {
  pending: RequestRow[];
  grants: GrantRow[];
}

/** A person's pending requests and their grants that are not over yet. */
export function overviewOf(ctx: CoreContext, userId: string): UserOverview {
  return {
    pending: ctx.db
      .select()
      .from(requests)
      .where(and(eq(requests.requester, userId), eq(requests.status, 'pending')))
      .orderBy(desc(requests.createdAt))
      .all(),
    grants: ctx.db
      .select()
      .from(grants)
      .where(
        and(
          eq(grants.userId, userId),
          inArray(grants.status, ['activating', 'active', 'revoking']),
        ),
      )
      .orderBy(asc(grants.expiresAt))
      .all(),
  };
}

/** Pending requests this person could decide now (not their own unless self-approval is allowed). */
export async function awaitingDecisionBy(
  ctx: CoreContext,
  userId: string,
  limit = 20,
): Promise<RequestRow[]> {
  const pending = ctx.db
    .select()
    .from(requests)
    .where(requestPending)
    .orderBy(asc(requests.createdAt))
    .all();
  const out: RequestRow[] = [];
  for (const row of pending) {
    if (out.length >= limit) break;
    const resource = ctx.policy.findResource(row.resourceId);
    if (!resource || (row.requester === userId && !resource.allowSelfApproval)) continue;
    if (!(await ctx.policy.isApprover(userId, resource))) continue;
    const decided = ctx.db
      .select({ id: approvals.id })
      .from(approvals)
      .where(and(eq(approvals.requestId, row.id), eq(approvals.approver, userId)))
      .get();
    if (!decided) out.push(row);
  }
  return out;
}
