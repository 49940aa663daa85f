import { formatDuration } from '../config/duration';
import type { Resource } from '../config/schema';
import {
  change,
  type ApprovalRow,
  type Change,
  type CoreContext,
  type RequestRow,
} from './context';
import { DomainError } from './errors';
import { extensionCeiling } from './extension-ceiling';
import { tokenEnded } from './api-tokens';
import { callerOf } from './pipelines';
import type { PersonRow } from '../store/rows';
import type { Decision } from './policy';
import { approveRequest, expireInChange } from './requests';
import { recordStep } from './steps';

export interface DecisionInput {
  requestId: string;
  /** The person deciding, as proven by the caller (Slack: the signed payload's user.id). */
  actor: string;
  decision: Decision;
  reason?: string;
}

/** A decision as recorded: the store numbers it when the change commits. */
export type RecordedDecision = Omit<ApprovalRow, 'id'>;

export type DecisionOutcome =
  | { kind: 'recorded'; request: RequestRow; approvals: RecordedDecision[] }
  | { kind: 'duplicate'; request: RequestRow; approvals: RecordedDecision[] }
  | { kind: 'already_decided'; request: RequestRow; approvals: RecordedDecision[] };

/**
 * What the policy says about a request at the moment its decision completes: it may have
 * changed since the request was filed. The request must still qualify; its quorum is the larger
 * and its duration ceiling the smaller of then and now.
 */
interface Standing {
  resource?: Resource;
  /** Why the request can no longer be granted, said to the requester and the approvers. */
  refusal?: string;
  required: number;
  maxDurationMs: number;
  /** Approvers whose approval no longer counts: they lost their right to decide. */
  discounted: Set<string>;
}

async function standingOf(
  ctx: CoreContext,
  request: RequestRow,
  prior: readonly ApprovalRow[],
  escalated: boolean,
): Promise<Standing> {
  const resource = ctx.policy.findResource(request.resourceId);
  const discounted = new Set<string>();
  if (!resource) {
    return {
      refusal: `the resource ${request.resourceId} was removed from Hallpass's configuration`,
      required: request.approvalsRequired,
      maxDurationMs: request.durationMs,
      discounted,
    };
  }
  for (const a of prior) {
    if (a.decision !== 'approve') continue;
    const right = await ctx.policy.decisionRight(
      a.approver,
      resource,
      request.requester,
      'approve',
      escalated,
    );
    if (!right.allowed) discounted.add(a.approver);
  }
  const caller = callerOf(request);
  const allowed = caller
    ? ctx.policy.pipelineRefusal(caller, resource) === undefined
    : await ctx.policy.canRequest(request.requester, resource);
  const status = await ctx.policy.statusOf(request.requester);
  const refusal =
    status === 'deactivated' || status === 'guest'
      ? `${request.requester} is ${status === 'guest' ? 'a guest' : 'deactivated'} in Slack`
      : allowed
        ? undefined
        : `${request.requester} may no longer request ${resource.id}`;
  return {
    resource,
    ...(refusal ? { refusal } : {}),
    required: Math.max(request.approvalsRequired, resource.approvalsRequired),
    maxDurationMs: Math.min(request.maxDurationMs ?? resource.maxDuration, resource.maxDuration),
    discounted,
  };
}

/**
 * Records one approver's decision. Who may decide is checked against the policy first (outside
 * the transaction: it may ask the directory), and so is whether the request still qualifies
 * under today's policy; inside, the request is read again, so racing approvers, double clicks
 * and retries each count once.
 */
export async function decide(ctx: CoreContext, input: DecisionInput): Promise<DecisionOutcome> {
  // What the policy is asked with, in one read (one statement on PostgreSQL); the change reads
  // it again under the lock.
  const before = await ctx.store.requests.beforeDecision(input.requestId, input.actor);
  if (!before) throw new DomainError('not_found', `No request ${input.requestId}.`);
  // Once escalated, the escalation target decides as well.
  const { request: found, approvals, escalated } = before;
  const standing = await standingOf(ctx, found, approvals, escalated);
  if (standing.resource) {
    const right = await ctx.policy.decisionRight(
      input.actor,
      standing.resource,
      found.requester,
      input.decision,
      escalated,
    );
    if (!right.allowed) throw right.error;
  }
  const reason = input.reason?.trim().slice(0, 2000) || null;

  return change(ctx, async (c) => {
    // One read: on PostgreSQL every round trip of a change holds up the changes queued behind it.
    const facts = (await c.tx.requests.beforeDecision(input.requestId, input.actor))!;
    const { request: row, approvals: decisions } = facts;
    const hasLeft = (userId: string) => left(facts.people.get(userId));
    if (row.status === 'pending' && row.pendingUntil <= c.now) {
      return {
        kind: 'already_decided',
        request: await expireInChange(c, row),
        approvals: decisions,
      };
    }
    if (row.status !== 'pending')
      return { kind: 'already_decided', request: row, approvals: decisions };
    // Its resource is gone: nobody can grant it any more, whoever looks at it ends it.
    if (!standing.resource)
      return deny(c, row, 'hallpass', `policy changed: ${standing.refusal}`, decisions);
    if (decisions.some((a) => a.approver === input.actor))
      return { kind: 'duplicate', request: row, approvals: decisions };
    // Offboarded since the policy was asked (or while the directory could not say): the
    // recorded state wins, for this decision and for every approval counted with it.
    if (hasLeft(input.actor)) throw leftWorkspace('decide');
    const discounted = new Set([
      ...standing.discounted,
      ...decisions.map((a) => a.approver).filter(hasLeft),
    ]);

    const decision: RecordedDecision = {
      requestId: row.id,
      approver: input.actor,
      decision: input.decision,
      reason,
      createdAt: c.now,
    };
    await c.tx.approvals.insert(decision);
    // Under the change lock nobody else decides on the request: its decisions are those read
    // and this one.
    const all = [...decisions, decision];
    if (input.decision === 'deny') return deny(c, row, input.actor, reason, all);

    // A raised quorum becomes the request's own, so everything that shows it counts against it.
    const raised = standing.required > row.approvalsRequired;
    if (raised) await c.tx.requests.set(row.id, { approvalsRequired: standing.required });
    // The requester's own approval is marked on the request, where the digest finds it.
    const selfApproval = input.actor === row.requester;
    if (selfApproval) await c.tx.requests.set(row.id, { selfApproved: true });
    const current = { ...row, selfApproved: row.selfApproved || selfApproval };
    const counted = all.filter(
      (a) => a.decision === 'approve' && !discounted.has(a.approver),
    ).length;
    const complete = counted >= standing.required;
    recordStep(c, {
      actor: input.actor,
      action: 'approval.recorded',
      requestId: row.id,
      grantId: row.grantId,
      details: {
        approvals: counted,
        required: standing.required,
        selfApproval,
        ...(discounted.size > 0 ? { discounted: [...discounted] } : {}),
        ...(raised ? { filedWith: row.approvalsRequired } : {}),
      },
      // The approval that completes the quorum redraws with the approval itself.
      redraw: complete ? undefined : row.id,
    });
    if (!complete)
      return {
        kind: 'recorded',
        request: { ...current, approvalsRequired: standing.required },
        approvals: all,
      };
    const gone = hasLeft(row.requester) ? `${row.requester} left the workspace` : undefined;
    // A pipeline's request stands on the token that filed it: one that ran out since (a revoked
    // one cancelled its waiting requests) files nothing more, approved or not.
    const refusal =
      standing.refusal ??
      gone ??
      (await tokenEnded(c, callerOf(row))) ??
      (await noRoomLeft(ctx, c, row));
    if (refusal) return deny(c, row, 'hallpass', `policy changed: ${refusal}`, all);
    // Access asked for without a start starts now: the window it was filed in may have closed.
    const late =
      row.kind === 'access' && row.startAt === null
        ? ctx.policy.lateForWindow(standing.resource, c.now)
        : undefined;
    if (late) return deny(c, row, 'hallpass', late, all);
    const durationMs = Math.min(row.durationMs, standing.maxDurationMs);
    return {
      kind: 'recorded',
      request: await approveRequest(ctx, c, { ...current, durationMs }, input.actor, false, {
        ...(durationMs < row.durationMs ? { cappedFrom: row.durationMs } : {}),
      }),
      approvals: all,
    };
  });
}

/** Whether a person's offboarding is recorded (deactivated, or a guest, in Slack). */
function left(state: PersonRow['state'] | undefined): boolean {
  return state !== undefined && state !== 'active';
}

function leftWorkspace(verb: 'decide' | 'review'): DomainError {
  return new DomainError(
    'not_approver',
    `You left the workspace or became a guest in Slack, so you ${verb} nothing in Hallpass; nothing changed.`,
  );
}

/** Refuses, inside a change, someone whose offboarding is recorded: they act on nothing. */
export async function refuseIfLeft(
  c: Change,
  actor: string,
  verb: 'decide' | 'review',
): Promise<void> {
  if (left((await c.tx.people.get(actor))?.state)) throw leftWorkspace(verb);
}

/**
 * Why an extension can add nothing: the longest total duration was lowered since it was asked
 * for, to or below where its grant already ends. Applying it would end the grant earlier.
 */
async function noRoomLeft(
  ctx: CoreContext,
  c: Change,
  row: RequestRow,
): Promise<string | undefined> {
  if (row.kind !== 'extension' || !row.grantId) return undefined;
  const grant = await c.tx.grants.byId(row.grantId);
  if (grant?.status !== 'active' || grant.startsAt === null || grant.expiresAt === null)
    return undefined;
  const ceiling = extensionCeiling(grant, grant.startsAt, ctx.policy.findResource(row.resourceId));
  if (ceiling > grant.expiresAt) return undefined;
  return `${row.resourceId} allows ${formatDuration(ceiling - grant.startsAt)} in all from the start of a grant, and this one already lasts that long`;
}

/** Ends a pending request as denied: by an approver, or by Hallpass when policy no longer allows it. */
async function deny(
  c: Change,
  row: RequestRow,
  by: string,
  reason: string | null,
  approvals: RecordedDecision[],
): Promise<DecisionOutcome> {
  const decided = {
    status: 'denied' as const,
    decidedAt: c.now,
    decidedBy: by,
    decisionReason: reason,
  };
  await c.tx.requests.set(row.id, decided);
  recordStep(c, {
    actor: by,
    action: 'request.denied',
    requestId: row.id,
    grantId: row.grantId,
    details: { reason, ...(by === 'hallpass' ? { policy: true } : {}) },
    redraw: row.id,
    dm: {
      key: `request.denied:${row.id}:dm`,
      userId: row.requester,
      event: row.kind === 'extension' ? 'extension.denied' : 'request.denied',
      grantId: row.grantId,
    },
  });
  return { kind: 'recorded', request: { ...row, ...decided }, approvals };
}
