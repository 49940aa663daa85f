import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../store/db';
import { preparedOn } from '../store/prepared';
import { approvals, requests } from '../store/schema';
import { change, type ApprovalRow, type CoreContext, type RequestRow } from './context';
import { DomainError } from './errors';
import { getRequest } from './queries';
import { approveRequest, expireInChange } from './requests';

/** A decision's reads and its write, prepared once per connection: every click makes them. */
const query = {
  approvals: (db: Db) =>
    db
      .select()
      .from(approvals)
      .where(eq(approvals.requestId, sql.placeholder('requestId')))
      .prepare(),
  mine: (db: Db) =>
    db
      .select()
      .from(approvals)
      .where(
        and(
          eq(approvals.requestId, sql.placeholder('requestId')),
          eq(approvals.approver, sql.placeholder('approver')),
        ),
      )
      .prepare(),
  insert: (db: Db) =>
    db
      .insert(approvals)
      .values({
        requestId: sql.placeholder('requestId'),
        approver: sql.placeholder('approver'),
        decision: sql.placeholder('decision'),
        reason: sql.placeholder('reason'),
        createdAt: sql.placeholder('createdAt'),
      })
      .prepare(),
};

export interface DecisionInput {
  requestId: string;
  /** The person deciding, as proven by the caller (Slack: the signed payload's user.id). */
  actor: string;
  decision: 'approve' | 'deny';
  reason?: string;
}

export type DecisionOutcome =
  /** This decision counted; the request may or may not be decided yet. */
  | { kind: 'recorded'; request: RequestRow; approvals: ApprovalRow[] }
  /** The same person had already decided this request (a double click or a retry). */
  | { kind: 'duplicate'; request: RequestRow; approvals: ApprovalRow[] }
  /** Someone or something decided the request before this click. */
  | { kind: 'already_decided'; request: RequestRow; approvals: ApprovalRow[] };

/**
 * Records an approver's decision. Whatever the timing of concurrent clicks, a request ends with
 * exactly one outcome: each approver counts once, one deny ends it, the quorum approves it.
 */
export async function decide(ctx: CoreContext, input: DecisionInput): Promise<DecisionOutcome> {
  const found = getRequest(ctx, input.requestId);
  if (!found) throw new DomainError('not_found', `No request ${input.requestId}.`);
  const resource = ctx.policy.resource(found.resourceId);
  const selfAllowed = resource.allowSelfApproval && input.actor === found.requester;
  if (!(await ctx.policy.isApprover(input.actor, resource))) {
    throw new DomainError(
      'not_approver',
      `You are not an approver for ${resource.name} (${resource.id}), so your click changed nothing.`,
    );
  }
  if (input.actor === found.requester && input.decision === 'approve' && !selfAllowed) {
    throw new DomainError(
      'self_approval',
      `You cannot approve your own request for ${resource.id}; another approver has to.`,
    );
  }
  const reason = input.reason?.trim().slice(0, 2000) || null;

  return change(ctx, (c) => {
    const row = getRequest(ctx, input.requestId)!;
    const listApprovals = () => preparedOn(ctx.db, query.approvals).all({ requestId: row.id });
    if (row.status === 'pending' && row.pendingUntil <= c.now) {
      return {
        kind: 'already_decided',
        request: expireInChange(ctx, c, row),
        approvals: listApprovals(),
      };
    }
    if (row.status !== 'pending')
      return { kind: 'already_decided', request: row, approvals: listApprovals() };
    const mine = preparedOn(ctx.db, query.mine).get({ requestId: row.id, approver: input.actor });
    if (mine) return { kind: 'duplicate', request: row, approvals: listApprovals() };

    preparedOn(ctx.db, query.insert).run({
      requestId: row.id,
      approver: input.actor,
      decision: input.decision,
      reason,
      createdAt: c.now,
    });

    if (input.decision === 'deny') {
      const denied: RequestRow = {
        ...row,
        status: 'denied',
        decidedAt: c.now,
        decidedBy: input.actor,
        decisionReason: reason,
      };
      ctx.db
        .update(requests)
        .set({ status: 'denied', decidedAt: c.now, decidedBy: input.actor, decisionReason: reason })
        .where(eq(requests.id, row.id))
        .run();
      const event = c.audit({
        actor: input.actor,
        action: 'request.denied',
        requestId: row.id,
        grantId: row.grantId,
        details: { reason },
      });
      c.notify(`approver_message:${row.id}:${event.seq}`, {
        topic: 'approver_message',
        requestId: row.id,
      });
      const dmEvent = row.kind === 'extension' ? 'extension.denied' : 'request.denied';
      c.notify(`request.denied:${row.id}:dm`, {
        topic: 'requester_dm',
        userId: row.requester,
        event: dmEvent,
        requestId: row.id,
        grantId: row.grantId ?? undefined,
      });
      return { kind: 'recorded', request: denied, approvals: listApprovals() };
    }

    const all = listApprovals();
    const approvedCount = all.filter((a) => a.decision === 'approve').length;
    const event = c.audit({
      actor: input.actor,
      action: 'approval.recorded',
      requestId: row.id,
      grantId: row.grantId,
      details: {
        approvals: approvedCount,
        required: row.approvalsRequired,
        selfApproval: input.actor === row.requester,
      },
    });
    if (approvedCount >= row.approvalsRequired) {
      return {
        kind: 'recorded',
        request: approveRequest(ctx, c, row, input.actor, false),
        approvals: all,
      };
    }
    c.notify(`approver_message:${row.id}:${event.seq}`, {
      topic: 'approver_message',
      requestId: row.id,
    });
    return { kind: 'recorded', request: row, approvals: all };
  });
}
