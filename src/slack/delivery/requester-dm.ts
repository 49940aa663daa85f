import type { CoreContext, GrantRow, RequestRow } from '../../core';
import { getGrant } from '../../core/grant-progress';
import { getRequest, grantOfRequest } from '../../core/queries';
import { requesterDm } from '../ui/messages';
import { Undeliverable } from './failures';
import type { TopicHandler } from './topic-handler';
import { approverChannelOf, resourceView } from './views';

/** Tells a requester what happened to their request or grant, in their DM with the app. */
export const deliverRequesterDm: TopicHandler<'requester_dm'> = async (n, ctx) => {
  const core = ctx.core.ctx;
  const request = getRequest(core, n.requestId);
  if (!request) throw new Undeliverable(`request ${n.requestId} does not exist`);
  await ctx.post(
    n.userId,
    requesterDm({
      event: n.event,
      request,
      resource: resourceView(ctx.core, request.resourceId),
      grant: grantFor(core, request, n.grantId),
      approverChannel: approverChannelOf(ctx.core, request.resourceId),
      guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
      now: ctx.now,
      timezone: core.config.timezone,
    }),
  );
};

/** The grant the event names, else the request's own grant, else the grant an extension is for. */
function grantFor(
  core: CoreContext,
  request: RequestRow,
  grantId: string | undefined,
): GrantRow | undefined {
  const id = grantId ?? (request.kind === 'extension' ? request.grantId : null);
  return id ? getGrant(core, id) : grantOfRequest(core, request.id);
}
