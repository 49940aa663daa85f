import type { RequestStanding } from '../../core';
import { escalationDm, escalationMessage, reminderMessage } from '../ui/break-glass';
import { approverMessageInput, approverMessageRef, escalationRef } from './approver-message';
import { Undeliverable } from './failures';
import type { DeliveryContext, TopicHandler } from './topic-handler';
import { approverChannelOf, resourceView } from './views';

/** The request, while it still waits for a decision: a follow-up of a decided one is dropped. */
async function stillPending(
  ctx: DeliveryContext,
  requestId: string,
): Promise<RequestStanding | undefined> {
  const standing = await ctx.core.standingOf(requestId);
  if (!standing) throw new Undeliverable(`request ${requestId} does not exist`);
  return standing.request.status === 'pending' ? standing : undefined;
}

/**
 * Re-pings a pending request's approvers in the thread of its approver message (in the approver
 * channel itself when that message was never posted). Nothing once the request was decided.
 */
export const deliverReminder: TopicHandler<'reminder'> = async (n, ctx) => {
  const request = (await stillPending(ctx, n.requestId))?.request;
  const resource = request && ctx.core.policy.findResource(request.resourceId);
  if (!request || !resource) return;
  const message = reminderMessage({
    request,
    approvers: resource.approvers,
    waitedMs: ctx.now - request.createdAt,
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  });
  if (!(await ctx.reply(approverMessageRef(request.id), message))) {
    await ctx.post(approverChannelOf(ctx.core, request.resourceId), message);
  }
};

/**
 * Posts a pending request to its escalation target's channel (the approver channel without
 * one), with Approve / Deny for the target, and tells each of the target's users in a DM. The
 * channel copy is edited with every later change of the request, like the approver message.
 */
export const deliverEscalation: TopicHandler<'escalation'> = async (n, ctx) => {
  const standing = await stillPending(ctx, n.requestId);
  const request = standing?.request;
  const resource = request && ctx.core.policy.findResource(request.resourceId);
  if (!standing || !request || !resource) return;
  const target = ctx.core.policy.followUpOf(resource).escalateTo;
  const channel = ctx.core.policy.escalationChannel(resource);
  const waitedMs = ((await ctx.core.escalatedAt(request.id)) ?? ctx.now) - request.createdAt;
  const input = await approverMessageInput(ctx, standing);
  const ref = escalationRef(request.id);
  await ctx.slack.postOrUpdate(
    ref.subject,
    ref.purpose,
    channel,
    escalationMessage({ ...input, target, waitedMs }),
  );
  const dm = escalationDm({
    request,
    resource: resourceView(ctx.core, request.resourceId),
    channel,
    waitedMs,
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  });
  for (const user of target?.users ?? []) await ctx.post(user, dm);
};
