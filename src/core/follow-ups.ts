import type { FollowUp } from '../config/follow-up';
import type { FollowUpStep } from '../store/rows';
import { change, type CoreContext, type RequestRow } from './context';
import { recordStep } from './steps';

/** What one pass sent. */
export interface FollowUpsSent {
  reminded: number;
  escalated: number;
  overdueReviews: number;
}

type RequestStep = Extract<FollowUpStep, 'remind' | 'escalate'>;

const AFTER: Record<RequestStep, keyof FollowUp> = {
  remind: 'remindAfter',
  escalate: 'escalateAfter',
};

/**
 * The configured resources grouped by how long after filing `step` is due, so each group is one
 * indexed query however many resources share a setting.
 */
function groupsOf(ctx: CoreContext, step: RequestStep): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const resource of ctx.policy.resources()) {
    const after = ctx.policy.followUpOf(resource)[AFTER[step]];
    if (typeof after !== 'number') continue;
    groups.set(after, [...(groups.get(after) ?? []), resource.id]);
  }
  return groups;
}

/**
 * Records `step` for a request still pending and not past its timeout, with its audit event and
 * its notification, in one change; false when it was decided meanwhile or the step was recorded
 * before (by this process, an earlier one or another replica).
 */
async function sendStep(
  ctx: CoreContext,
  requestId: string,
  step: RequestStep,
  after: number,
): Promise<boolean> {
  return change(ctx, async (c) => {
    const row = await c.tx.requests.byId(requestId);
    if (row?.status !== 'pending' || row.pendingUntil <= c.now) return false;
    if (!(await c.tx.followUps.insertIfNew(row.id, step, c.now))) return false;
    const resource = ctx.policy.findResource(row.resourceId);
    const to =
      step === 'escalate' && resource ? ctx.policy.followUpOf(resource).escalateTo : undefined;
    recordStep(c, {
      actor: 'hallpass',
      action: step === 'remind' ? 'request.reminded' : 'request.escalated',
      requestId: row.id,
      grantId: row.grantId,
      details: { after, ...(to ? { to } : {}) },
    });
    c.notify(`request.${step}:${row.id}`, {
      topic: step === 'remind' ? 'reminder' : 'escalation',
      requestId: row.id,
    });
    return true;
  });
}

async function dueRequests(
  ctx: CoreContext,
  step: RequestStep,
  limit: number,
): Promise<{ request: RequestRow; after: number }[]> {
  const now = ctx.clock.now();
  const due: { request: RequestRow; after: number }[] = [];
  for (const [after, resourceIds] of groupsOf(ctx, step)) {
    const rows = await ctx.store.followUps.pendingWithout({
      resourceIds,
      step,
      filedBy: now - after,
      limit,
    });
    due.push(...rows.map((request) => ({ request, after })));
  }
  return due;
}

/** Chases one unreviewed break-glass use past its review time, once. */
async function chaseReview(ctx: CoreContext, requestId: string): Promise<boolean> {
  return change(ctx, async (c) => {
    const use = await c.tx.breakGlass.byRequest(requestId);
    if (!use || use.reviewedAt !== null || use.reviewDueAt > c.now) return false;
    if (!(await c.tx.followUps.insertIfNew(requestId, 'review_overdue', c.now))) return false;
    recordStep(c, {
      actor: 'hallpass',
      action: 'breakglass.review_overdue',
      requestId,
      grantId: use.grantId,
      details: { usedBy: use.userId, reviewDueAt: use.reviewDueAt },
      redraw: requestId,
    });
    c.notify(`breakglass.review_overdue:${requestId}`, { topic: 'review_overdue', requestId });
    return true;
  });
}

/**
 * Sends every follow-up due now, one change each: reminders to the approvers of requests
 * waiting longer than `remindAfter`, escalations of those waiting longer than `escalateAfter`,
 * and the chase of break-glass uses unreviewed past `reviewWithin`. Each is recorded in the
 * database with its audit event, so it is sent once whoever runs this and however often.
 */
export async function sendDueFollowUps(ctx: CoreContext, limit = 200): Promise<FollowUpsSent> {
  const sent: FollowUpsSent = { reminded: 0, escalated: 0, overdueReviews: 0 };
  for (const { request, after } of await dueRequests(ctx, 'remind', limit)) {
    if (await sendStep(ctx, request.id, 'remind', after)) sent.reminded++;
  }
  for (const { request, after } of await dueRequests(ctx, 'escalate', limit)) {
    if (await sendStep(ctx, request.id, 'escalate', after)) sent.escalated++;
  }
  for (const use of await ctx.store.breakGlass.overdue(ctx.clock.now(), limit)) {
    if (await chaseReview(ctx, use.requestId)) sent.overdueReviews++;
  }
  return sent;
}

/** The next moment a follow-up falls due, or null when nothing waits for one. */
export async function nextFollowUpAt(ctx: CoreContext): Promise<number | null> {
  const candidates: number[] = [];
  for (const step of ['remind', 'escalate'] as const) {
    for (const [after, resourceIds] of groupsOf(ctx, step)) {
      const oldest = await ctx.store.followUps.oldestPendingWithout(resourceIds, step);
      if (oldest !== null) candidates.push(oldest + after);
    }
  }
  const review = await ctx.store.breakGlass.nextOverdueAt();
  if (review !== null) candidates.push(review);
  return candidates.length > 0 ? Math.min(...candidates) : null;
}
