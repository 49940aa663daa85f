import { breakGlassAlert, reviewOverdueMessage } from '../ui/break-glass';
import { approverMessageRef } from './approver-message';
import { Undeliverable } from './failures';
import type { DeliveryContext, TopicHandler } from './topic-handler';
import { approverChannelOf, resourceView } from './views';

async function useOf(ctx: DeliveryContext, requestId: string) {
  const [request, use] = await Promise.all([
    ctx.core.request(requestId),
    ctx.core.breakGlassOf(requestId),
  ]);
  if (!request || !use) throw new Undeliverable(`no break-glass use ${requestId}`);
  return { request, use };
}

/** Tells every admin, in a DM each, that someone broke the glass or that a use was flagged. */
export const deliverBreakGlassAlert: TopicHandler<'breakglass_alert'> = async (n, ctx) => {
  const { request, use } = await useOf(ctx, n.requestId);
  const message = breakGlassAlert({
    event: n.event,
    request,
    use,
    resource: resourceView(ctx.core, use.resourceId),
    approverChannel: approverChannelOf(ctx.core, use.resourceId),
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  });
  for (const admin of new Set(n.admins)) await ctx.post(admin, message);
};

/**
 * Chases a use nobody reviewed in time: its approvers are pinged in the thread of its alert,
 * and the escalation target (its channel and users) and the admins are told. Nothing once it
 * was reviewed.
 */
export const deliverReviewOverdue: TopicHandler<'review_overdue'> = async (n, ctx) => {
  const { use } = await useOf(ctx, n.requestId);
  if (use.verdict !== null) return;
  const resource = ctx.core.policy.findResource(use.resourceId);
  const approverChannel = approverChannelOf(ctx.core, use.resourceId);
  const base = {
    use,
    resource: resourceView(ctx.core, use.resourceId),
    approverChannel,
    now: ctx.now,
    timezone: ctx.core.config.timezone,
  };
  const ping = reviewOverdueMessage({ ...base, approvers: resource?.approvers });
  if (!(await ctx.reply(approverMessageRef(use.requestId), ping))) {
    await ctx.post(approverChannel, ping);
  }
  const target = resource && ctx.core.policy.followUpOf(resource).escalateTo;
  const elsewhere = new Set(
    [target?.channel, ...(target?.users ?? []), ...ctx.core.config.admins].filter(
      (t): t is string => t !== undefined && t !== approverChannel,
    ),
  );
  const notice = reviewOverdueMessage(base);
  for (const to of elsewhere) await ctx.post(to, notice);
};
