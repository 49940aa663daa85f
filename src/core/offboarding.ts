import type { PersonStatus } from './directory';
import { change, type CoreContext } from './context';
import { endEarly, canEndEarly } from './early-end';
import { approverChannelOf } from './grant-transitions';
import { recordStep } from './steps';
import type { PersonRow } from '../store/rows';

/** Where the news of someone leaving came from. */
export type OffboardingSource = 'slack_event' | 'directory_check';

export interface Offboarded {
  grants: string[];
  requests: string[];
}

/**
 * Records what the directory says of a person. Someone deactivated (or turned into a guest)
 * is offboarded at once, in one change: every grant they hold moves to revoking (the sweeper
 * takes the access away), every request they are waiting on is cancelled, their approver
 * channels are told, and it is audited. From then on they can neither file nor be granted.
 * Someone active again is recorded as such once the directory agrees (`whetherBack`). Saying
 * the same thing twice changes nothing.
 */
export async function recordPersonStatus(
  ctx: CoreContext,
  userId: string,
  status: PersonStatus,
  source: OffboardingSource,
): Promise<Offboarded | undefined> {
  let asked: PersonRow | undefined;
  if (status === 'active') {
    asked = await ctx.store.people.get(userId);
    const back = await whetherBack(ctx, userId, asked);
    if (back === 'unsure') await change(ctx, (c) => c.tx.people.doubt(userId));
    if (back !== 'yes') return undefined;
  }
  return change(ctx, async (c) => {
    const known = await c.tx.people.get(userId);
    // Whatever was recorded while the directory answered (a deactivation heard meanwhile) is
    // newer news than that answer.
    if (asked && (known?.checkedAt !== asked.checkedAt || known.state !== asked.state))
      return undefined;
    const changed = known?.state !== status;
    await c.tx.people.upsert({
      userId,
      state: status,
      changedAt: changed ? c.now : (known?.changedAt ?? c.now),
      checkedAt: c.now,
    });
    if (status === 'active') return undefined;
    const grants = (await c.tx.grants.liveOf(userId)).filter(canEndEarly);
    const requests = await c.tx.requests.pendingOf(userId);
    if (!changed && grants.length === 0 && requests.length === 0) return undefined;
    const why =
      status === 'guest' ? 'they became a guest in Slack' : 'they were deactivated in Slack';
    const channels = new Set<string>();
    for (const grant of grants) {
      await endEarly(c, grant, {
        reason: 'offboarded',
        by: 'hallpass',
        note: why,
        details: { source },
      });
      channels.add(approverChannelOf(ctx, grant));
    }
    for (const request of requests) {
      const decided = {
        status: 'cancelled' as const,
        decidedAt: c.now,
        decidedBy: 'hallpass',
        decisionReason: `the requester left: ${why}`,
      };
      await c.tx.requests.update(request.id, decided, 'pending');
      recordStep(c, {
        actor: 'hallpass',
        action: 'request.cancelled',
        requestId: request.id,
        grantId: request.grantId,
        details: { reason: 'offboarded', source },
        redraw: request.id,
      });
      const resource = ctx.policy.findResource(request.resourceId);
      channels.add(
        resource ? ctx.policy.approverChannel(resource) : ctx.config.requests.approverChannel,
      );
    }
    const offboarded = { grants: grants.map((g) => g.id), requests: requests.map((r) => r.id) };
    c.audit({
      actor: 'hallpass',
      action: 'user.offboarded',
      details: { userId, status, source, ...offboarded },
    });
    for (const channel of channels) {
      c.notify(`offboarded:${userId}:${c.now}:${channel}`, {
        topic: 'offboarded',
        userId,
        channel,
        status,
        grants: offboarded.grants,
        requests: offboarded.requests,
      });
    }
    return offboarded;
  });
}

/**
 * Whether someone `known` as recorded may be recorded active: `same` when they are already.
 * Slack delivers an event again minutes after a failed delivery, so an older profile edit can
 * arrive after the deactivation that followed it: news of leaving is acted on at once, news of
 * being back about someone recorded as gone only once the directory, asked afresh, agrees. When it
 * cannot answer (`unsure`), the record is marked doubted, and the offboarding check asks again on
 * its next run rather than leave them shut out until their next profile change.
 */
async function whetherBack(
  ctx: CoreContext,
  userId: string,
  known: PersonRow | undefined,
): Promise<'same' | 'yes' | 'no' | 'unsure'> {
  if (known?.state === 'active') return 'same';
  if (!known) return 'yes';
  const status = await ctx.policy.freshStatusOf(userId);
  if (status === undefined) return 'unsure';
  return status === 'active' ? 'yes' : 'no';
}
