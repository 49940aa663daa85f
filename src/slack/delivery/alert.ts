import { alertMessage } from '../ui/messages';
import type { TopicHandler } from './topic-handler';
import { resourceView } from './views';

/** Posts a failing grant's alert to its approver channel and DMs every admin, each once. */
export const deliverAlert: TopicHandler<'alert'> = async (n, ctx) => {
  const grant = await ctx.core.grant(n.grantId);
  const message = alertMessage({
    grantId: n.grantId,
    action: n.action,
    attempts: n.attempts,
    error: n.error,
    userId: grant?.userId,
    resource: grant ? resourceView(ctx.core, grant.resourceId) : undefined,
  });
  for (const target of new Set([n.channel, ...n.admins])) await ctx.post(target, message);
};
