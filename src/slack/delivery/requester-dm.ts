import type { Core, RequestRow, RequestStanding } from '../../core';
import type { MessageRef } from '../messages-store';
import { isDmPost, requestCard, requesterDm } from '../ui/messages';
import { Undeliverable } from './failures';
import type { SlackOut } from './slack-out';
import type { DeliveryContext, NotificationOf, TopicHandler } from './topic-handler';
import { accessChannelOf, approverChannelOf, resourceView } from './views';

/** Where a request's card in its requester's DM is remembered in `slack_messages`. */
export function requestCardRef(requestId: string): MessageRef {
  return { subject: `request:${requestId}`, purpose: 'requester' };
}

/** Where a grant's "access is active" DM is remembered, so its credentials join it. */
export function activeDmRef(grantId: string): MessageRef {
  return { subject: `grant:${grantId}`, purpose: 'holder' };
}

/**
 * Tells a requester what happened to their request or grant, in their DM with the app, once
 * each: that the request reached the approvers (a card with Cancel, edited as the request moves
 * on rather than followed by near-duplicates), the decision when it needs their attention (a
 * denial, an expiry, an extension's answer), the access being active (with its credentials),
 * ending soon, and ended. A request that needs no approval has no card: its first DM is the
 * access being active. Which events only move the card: CARD_ONLY_EVENTS.
 */
export const deliverRequesterDm: TopicHandler<'requester_dm'> = async (n, ctx) => {
  if (await cardDrawnLater(n, ctx)) return;
  const standing = await ctx.core.standingOf(n.requestId);
  if (!standing) throw new Undeliverable(`request ${n.requestId} does not exist`);
  const { request } = standing;
  // The grant the event names, else the request's own (or the one an extension is for). The
  // standing already holds the request's own, read with it: most events name that one.
  const grant =
    n.grantId && n.grantId !== standing.grant?.id
      ? await ctx.core.grant(n.grantId)
      : standing.grant;
  const moment = { now: ctx.now, timezone: await ctx.zoneOf(n.userId) };
  const active = n.event === 'grant.active' && grant ? activeDmRef(grant.id) : undefined;
  // The grant's events also move the card of the request that made it.
  const original = grant && grant.requestId !== request.id ? grant.requestId : undefined;
  // What this delivery may edit, read in one statement: only deliveries to this person post it.
  const slack = await ctx.slack.knowing([
    ...(hasCard(request) ? [requestCardRef(request.id)] : []),
    ...(original ? [requestCardRef(original)] : []),
    ...(active ? [active] : []),
  ]);
  await showCard(ctx.core, slack, standing, n.userId, moment, n.event === 'request.received');
  if (original) {
    const made = await ctx.core.standingOf(original);
    if (made) await showCard(ctx.core, slack, made, n.userId, moment, false);
  }
  if (!isDmPost(n.event)) return;
  const message = requesterDm({
    event: n.event,
    request,
    resource: resourceView(ctx.core, request.resourceId),
    grant,
    guarantees: ctx.guarantees?.guaranteesFor(request.resourceId),
    channel: accessChannelOf(ctx.core, request.resourceId, grant),
    ...moment,
  });
  if (active) {
    await slack.postOrUpdate(active.subject, active.purpose, n.userId, message);
    return;
  }
  await ctx.post(n.userId, message);
};

/**
 * Whether this row would only edit its request's card, and a row queued after it for the same
 * person will draw that card again, as it is then. An approval is followed within moments by the
 * access being active: one edit instead of two, for Slack's rate limits and this thread. The
 * card's first post is never left to a later row, which only edits a card that was posted.
 */
async function cardDrawnLater(
  n: NotificationOf<'requester_dm'>,
  ctx: DeliveryContext,
): Promise<boolean> {
  if (isDmPost(n.event) || n.event === 'request.received') return false;
  const later = await ctx.queuedAfter();
  return later.some((m) => m.topic === 'requester_dm' && m.requestId === n.requestId);
}

/**
 * Posts the card of a request that waits for approvers (`post`: the request was just filed), or
 * edits the card already posted to show where the request stands now.
 */
async function showCard(
  core: Core,
  slack: SlackOut,
  { request, grant, approvals }: RequestStanding,
  userId: string,
  moment: { now: number; timezone: string },
  post: boolean,
): Promise<void> {
  if (!hasCard(request)) return;
  const ref = requestCardRef(request.id);
  // Decided before its card went out: the decision's own DM (or the active access) says it all.
  if (post && request.status !== 'pending') post = false;
  const card = requestCard({
    request,
    resource: resourceView(core, request.resourceId),
    grant,
    approvals,
    approverChannel: approverChannelOf(core, request.resourceId),
    ...moment,
  });
  // A card never posted stays unposted: `updateKnown` edits only a message it finds.
  if (post) await slack.postOrUpdate(ref.subject, ref.purpose, userId, card);
  else await slack.updateKnown(ref.subject, ref.purpose, card);
}

/** Whether a request has a card in its requester's DM: only one that waited for approvers. */
function hasCard(request: RequestRow): boolean {
  return request.approvalsRequired > 0 && !request.autoApproved;
}
