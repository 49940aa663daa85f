import { z } from 'zod';
import { formatDuration } from '../config/duration';
import type { BreakGlassRow } from '../store/rows';
import { change, type Change, type CoreContext, type RequestRow } from './context';
import { readBeforeFiling } from './client-key';
import { refuseIfLeft } from './decisions';
import { DomainError } from './errors';
import {
  approveRequest,
  checkBounds,
  checkJustification,
  checkTicket,
  pendingRequest,
  readDuration,
  refuseIfGone,
  ticketOf,
} from './requests';
import { recordStep } from './steps';

export const breakGlassInputSchema = z.object({
  requester: z.string().min(1),
  resourceId: z.string(),
  duration: z.union([z.string(), z.number().int().positive()]),
  justification: z.string(),
  ticket: z.string().optional(),
  /** A start the person asked for: break-glass only ever starts at once, so one is refused. */
  startAt: z.string().optional(),
  /** Makes a resubmitted form or a redelivered command return the use it already recorded. */
  clientKey: z.string().max(255).optional(),
});
export type BreakGlassInput = z.infer<typeof breakGlassInputSchema>;

export interface BreakGlassUse {
  request: RequestRow;
  use: BreakGlassRow;
}

export type Verdict = NonNullable<BreakGlassRow['verdict']>;

export interface ReviewInput {
  requestId: string;
  /** The reviewer, as proven by the caller (Slack: the signed payload's user.id). */
  actor: string;
  verdict: Verdict;
  note?: string;
}

export type ReviewOutcome =
  { kind: 'recorded'; use: BreakGlassRow } | { kind: 'already_reviewed'; use: BreakGlassRow };

const MAX_NOTE = 2000;

/**
 * Break-glass: access at once, without approval, for the people a resource's `breakGlass`
 * names. In one change: the request (approved by its requester under the break-glass rule), its
 * grant, the use with the moment its review is due, the audit events, and the alerts to the
 * approver channel (the approver message, drawn as a break-glass alert) and to the admins.
 */
export async function breakGlass(ctx: CoreContext, input: BreakGlassInput): Promise<BreakGlassUse> {
  const parsed = breakGlassInputSchema.parse(input);
  if (parsed.startAt?.trim())
    throw new DomainError(
      'bad_start',
      'Break-glass access starts at once. Leave the start empty, or file a request to start later: the approvers decide it.',
      'start',
    );
  const resource = ctx.policy.resource(parsed.resourceId.trim());
  const glass = await ctx.policy.breakGlassRight(parsed.requester, resource);
  const durationMs = readDuration(resource, parsed.duration);
  // A retry (a Slack delivery retried, a pipeline's key) gets back the use it repeats before
  // today's bounds are asked: one lowered since judges new uses, not the access already given.
  const earlier = parsed.clientKey
    ? await ctx.store.requests.byClientKey(parsed.clientKey)
    : undefined;
  if (!earlier) checkBounds(resource, durationMs);
  if (!earlier && durationMs > glass.maxDuration) {
    throw new DomainError(
      'bad_duration',
      `Break-glass on ${resource.id} lasts at most ${formatDuration(glass.maxDuration)}. Ask for that or less; for longer, \`/jit request ${resource.id}\` goes to the approvers.`,
      'duration',
    );
  }
  const justification = earlier
    ? parsed.justification.trim()
    : checkJustification(ctx, parsed.justification);
  // An emergency may come before its ticket: none is required, but one given must match.
  const ticket = earlier
    ? ticketOf(parsed.ticket)
    : checkTicket({ ...resource, requireTicket: false }, parsed.ticket);
  refuseIfGone(parsed.requester, await ctx.policy.statusOf(parsed.requester));

  return change(ctx, async (c) => {
    const { existing, facts } = await readBeforeFiling(ctx, c, parsed.clientKey, {
      requester: parsed.requester,
      kind: 'access',
      resourceId: resource.id,
      grantId: null,
      durationMs,
      justification,
      ticket,
      startAt: null,
    });
    if (existing) {
      const use = await c.tx.breakGlass.byRequest(existing.id);
      if (use) return { request: existing, use };
      throw new DomainError('bad_state', `Request ${existing.id} was not a break-glass use.`);
    }
    refuseIfGone(parsed.requester, facts.personState);
    checkFilingLimit(ctx, facts.filed);
    const row = pendingRequest(c, {
      kind: 'access',
      grantId: null,
      requester: parsed.requester,
      resourceId: resource.id,
      durationMs,
      justification,
      ticket,
      approvalsRequired: USE_APPROVALS,
      pendingUntil: c.now,
      clientKey: parsed.clientKey ?? null,
      maxDurationMs: glass.maxDuration,
      caller: null,
      // Recorded like any request's, so `policy explain --as-of` can read the rules then.
      policy: JSON.stringify(ctx.policy.rulesOf(resource)),
    });
    await c.tx.requests.insert(row);
    const reviewDueAt = c.now + glass.reviewWithin;
    recordStep(c, {
      actor: row.requester,
      action: 'breakglass.used',
      requestId: row.id,
      details: {
        resourceId: resource.id,
        durationMs,
        justification,
        ticket,
        reviewDueAt,
      },
    });
    // Its redraw posts the approver message, which a break-glass use renders as the alert.
    const request = await approveRequest(
      ctx,
      c,
      row,
      row.requester,
      false,
      { breakGlass: true },
      'breakglass.granted',
    );
    const grant = await c.tx.grants.byRequest(row.id);
    if (!grant) throw new Error(`break-glass request ${row.id} made no grant`);
    const use: BreakGlassRow = {
      requestId: row.id,
      grantId: grant.id,
      userId: row.requester,
      resourceId: resource.id,
      usedAt: c.now,
      reviewDueAt,
      reviewedAt: null,
      reviewedBy: null,
      verdict: null,
      note: null,
    };
    await c.tx.breakGlass.insert(use);
    alertAdmins(ctx, c, row.id, 'used');
    return { request, use };
  });
}

/**
 * Break-glass skips the limit on waiting requests (nothing waits), but not the filing limit, so
 * a script cannot use it to flood a resource with grants.
 */
function checkFilingLimit(ctx: CoreContext, filed: number): void {
  const { filingLimit } = ctx.config.requests;
  if (filed >= filingLimit.requests) {
    throw new DomainError(
      'rate_limited',
      `You filed ${filed} requests in the last ${formatDuration(filingLimit.per)}, the most one person may file in that time. Ask an approver directly.`,
    );
  }
}

function alertAdmins(
  ctx: CoreContext,
  c: Change,
  requestId: string,
  event: 'used' | 'flagged',
): void {
  const admins = ctx.config.admins;
  if (admins.length === 0) return;
  c.notify(`breakglass.${event}:${requestId}:admins`, {
    topic: 'breakglass_alert',
    requestId,
    admins,
    event,
  });
}

/** A break-glass use waits for no approver: it is recorded as a request that needs none. */
const USE_APPROVALS = 0;

/** Whether `request` can have been a break-glass use; one that needed approvers never was. */
export function mayBeBreakGlass(request: RequestRow): boolean {
  return request.approvalsRequired === USE_APPROVALS;
}

/** The use of break-glass a request was, or a DomainError the person can read. */
export async function findBreakGlass(ctx: CoreContext, requestId: string): Promise<BreakGlassRow> {
  const use = await ctx.store.breakGlass.byRequest(requestId);
  if (!use) throw new DomainError('not_found', `No break-glass use ${requestId}.`);
  return use;
}

/**
 * Whether `actor` may review the use, by the policy; throws the refusal the person is told.
 * A use on a resource since removed has no approvers left to review it in Hallpass.
 */
export async function checkReviewRight(
  ctx: CoreContext,
  use: BreakGlassRow,
  actor: string,
): Promise<void> {
  const resource = ctx.policy.findResource(use.resourceId);
  if (!resource) {
    throw new DomainError(
      'bad_state',
      `${use.resourceId} is no longer configured, so Hallpass knows no approvers to review this use; review it outside Hallpass.`,
    );
  }
  const right = await ctx.policy.reviewRight(actor, resource, use.userId);
  if (!right.allowed) throw right.error;
}

/**
 * An approver of the resource marks a use Reviewed or Flagged (a flag needs a note): once, by
 * whoever is first; the approver message is redrawn and a flag alerts the admins.
 */
export async function reviewBreakGlass(
  ctx: CoreContext,
  input: ReviewInput,
): Promise<ReviewOutcome> {
  const found = await findBreakGlass(ctx, input.requestId);
  await checkReviewRight(ctx, found, input.actor);
  const note = input.note?.trim().slice(0, MAX_NOTE) || null;
  if (input.verdict === 'flagged' && !note) {
    throw new DomainError('bad_note', 'Say what is wrong with this use: a flag needs a note.');
  }
  return change(ctx, async (c) => {
    // Offboarded since the policy was asked, or while the directory could not say.
    await refuseIfLeft(c, input.actor, 'review');
    const review = { reviewedAt: c.now, reviewedBy: input.actor, verdict: input.verdict, note };
    if (!(await c.tx.breakGlass.review(found.requestId, review))) {
      return { kind: 'already_reviewed', use: (await c.tx.breakGlass.byRequest(found.requestId))! };
    }
    recordStep(c, {
      actor: input.actor,
      action: input.verdict === 'flagged' ? 'breakglass.flagged' : 'breakglass.reviewed',
      requestId: found.requestId,
      grantId: found.grantId,
      details: {
        note,
        usedBy: found.userId,
        reviewDueAt: found.reviewDueAt,
        ...(c.now > found.reviewDueAt ? { late: true } : {}),
      },
      redraw: found.requestId,
    });
    if (input.verdict === 'flagged') alertAdmins(ctx, c, found.requestId, 'flagged');
    return { kind: 'recorded', use: { ...found, ...review } };
  });
}
