import type { GrantRow, RequestRow, RequestStanding } from '../../core';
import { breakGlassMessage, escalationMessage } from '../ui/break-glass';
import { approverMessage, type ApproverMessageInput } from '../ui/messages';
import { LeaseLost, Undeliverable } from './failures';
import type { DeliveryContext, TopicHandler } from './topic-handler';
import { accessChannelOf, approverChannelOf, resourceView } from './views';

/** Where a request's approver message is remembered in `slack_messages`. */
export function approverMessageRef(requestId: string): { subject: string; purpose: string } {
  return { subject: `request:${requestId}`, purpose: 'approvers' };
}

/** Where the copy of an escalated request posted to its escalation target is remembered. */
export function escalationRef(requestId: string): { subject: string; purpose: string } {
  return { subject: `request:${requestId}`, purpose: 'escalation' };
}

/** The request as it is now, as the approver message shows it. */
export async function approverMessageInput(
  ctx: DeliveryContext,
  { request, grant, approvals }: RequestStanding,
): Promise<ApproverMessageInput> {
  return {
    request,
    resource: resourceView(ctx.core, request.resourceId),
    approvals,
    grant,
    originalMessageUrl: await originalMessageUrl(ctx, request, grant),
    guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
    activity: grant?.status === 'revoked' ? await ctx.core.activityOf(grant) : undefined,
    channel: accessChannelOf(ctx.core, request.resourceId, grant),
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  };
}

/**
 * Posts a request's message to its approver channel the first time and edits that message on
 * every later change, always rendering the request as it is now; a use of break-glass is drawn
 * as its alert, and an escalated request's copy at its escalation target is edited alike. Every
 * such change also changes what the requester's Home shows, so it is republished.
 */
export const deliverApproverMessage: TopicHandler<'approver_message'> = async (n, ctx) => {
  const standing = await ctx.core.standingOf(n.requestId);
  if (!standing) throw new Undeliverable(`request ${n.requestId} does not exist`);
  const { request } = standing;
  const ref = approverMessageRef(request.id);
  const channel = approverChannelOf(ctx.core, request.resourceId);
  const use = await ctx.core.breakGlassUseOf(request);
  if (use) {
    const message = breakGlassMessage({
      request,
      resource: resourceView(ctx.core, request.resourceId),
      use,
      grant: standing.grant,
      guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
      now: ctx.now,
      timezone: ctx.core.config.timezone,
    });
    await ctx.slack.postOrUpdate(ref.subject, ref.purpose, channel, message);
    ctx.refreshHome([request.requester]);
    return;
  }
  const input = await approverMessageInput(ctx, standing);
  const escalated = escalationRef(request.id);
  const slack = await ctx.slack.knowing([ref, escalated]);
  await slack.postOrUpdate(ref.subject, ref.purpose, channel, approverMessage(input));
  // Most requests are never escalated: their copy is only drawn when there is one to edit.
  if (await slack.knows(escalated.subject, escalated.purpose)) {
    const resource = ctx.core.policy.findResource(request.resourceId);
    await slack.updateKnown(
      escalated.subject,
      escalated.purpose,
      escalationMessage({
        ...input,
        target: resource && ctx.core.policy.followUpOf(resource).escalateTo,
        waitedMs: ((await ctx.core.escalatedAt(request.id)) ?? ctx.now) - request.createdAt,
      }),
    );
  }
  ctx.refreshHome([request.requester]);
};

/**
 * For an extension, a link to the message of the request that created the grant. A link is a
 * convenience: when Slack cannot give one, the message goes out without it.
 */
async function originalMessageUrl(
  ctx: DeliveryContext,
  request: RequestRow,
  grant: GrantRow | undefined,
): Promise<string | undefined> {
  if (request.kind !== 'extension' || !grant) return undefined;
  const ref = approverMessageRef(grant.requestId);
  try {
    return await ctx.slack.permalinkOf(ref.subject, ref.purpose);
  } catch (err) {
    if (err instanceof LeaseLost) throw err;
    ctx.logger.warn('no permalink for the original request message', {
      requestId: grant.requestId,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}
