import type { Core, GrantRow, RequestRow } from '../../core';
import { requesterDm } from '../ui/messages';
import { Undeliverable } from './failures';
import type { TopicHandler } from './topic-handler';
import { approverChannelOf, resourceView } from './views';

/** Tells a requester what happened to their request or grant, in their DM with the app. */
export const deliverRequesterDm: TopicHandler<'requester_dm'> = async (n, ctx) => {
  const request = await ctx.core.request(n.requestId);
  if (!request) throw new Undeliverable(`request ${n.requestId} does not exist`);
  await ctx.post(
    n.userId,
    requesterDm({
      event: n.event,
      request,
      resource: resourceView(ctx.core, request.resourceId),
      grant: await grantFor(ctx.core, request, n.grantId),
      approverChannel: approverChannelOf(ctx.core, request.resourceId),
      guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
      now: ctx.now,
      timezone: ctx.core.config.timezone,
    }),
  );
};

/** The grant the event names, else the request's own grant, else the grant an extension is for. */
async function grantFor(
  core: Core,
  request: RequestRow,
  grantId: string | undefined,
): Promise<GrantRow | undefined> {
  return grantId ? core.grant(grantId) : core.grantOf(request);
}
