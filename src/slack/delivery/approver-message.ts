import type { GrantRow, RequestRow } from '../../core';
import { approverMessage } from '../ui/messages';
import { Undeliverable } from './failures';
import type { DeliveryContext, TopicHandler } from './topic-handler';
import { accessChannelOf, approverChannelOf, resourceView } from './views';

/** Where a request's approver message is remembered in `slack_messages`. */
export function approverMessageRef(requestId: string): { subject: string; purpose: string } {
  return { subject: `request:${requestId}`, purpose: 'approvers' };
}

/**
 * Posts a request's message to its approver channel the first time and edits that message on
 * every later change, always rendering the request as it is now. Every such change also changes
 * what the requester's Home shows (their pending requests and access), so it is republished.
 */
export const deliverApproverMessage: TopicHandler<'approver_message'> = async (n, ctx) => {
  const request = await ctx.core.request(n.requestId);
  if (!request) throw new Undeliverable(`request ${n.requestId} does not exist`);
  const grant = await ctx.core.grantOf(request);
  const message = approverMessage({
    request,
    resource: resourceView(ctx.core, request.resourceId),
    approvals: await ctx.core.approvalsOf(request.id),
    grant,
    originalMessageUrl: await originalMessageUrl(ctx, request, grant),
    guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
    activity: grant?.status === 'revoked' ? await ctx.core.activityOf(grant) : undefined,
    channel: accessChannelOf(ctx.core, request.resourceId, grant),
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  });
  const ref = approverMessageRef(request.id);
  await ctx.slack.postOrUpdate(
    ref.subject,
    ref.purpose,
    approverChannelOf(ctx.core, request.resourceId),
    message,
  );
  await ctx.refreshHome([request.requester]);
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
    ctx.logger.warn('no permalink for the original request message', {
      requestId: grant.requestId,
      error: err instanceof Error ? err.message : String(err),
    });
    return undefined;
  }
}
