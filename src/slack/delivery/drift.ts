import { driftMessage } from '../ui/messages';
import type { TopicHandler } from './topic-handler';
import { resourceView } from './views';

/** Posts a drift alert to the grant's approver channel and DMs every admin, each once. */
export const deliverDrift: TopicHandler<'drift'> = async (n, ctx) => {
  const grant = await ctx.core.grant(n.grantId);
  const message = driftMessage({
    grantId: n.grantId,
    expected: n.expected,
    repaired: n.repaired,
    error: n.error,
    userId: grant?.userId,
    resource: grant ? resourceView(ctx.core, grant.resourceId) : undefined,
  });
  for (const target of new Set([n.channel, ...n.admins])) await ctx.post(target, message);
};
