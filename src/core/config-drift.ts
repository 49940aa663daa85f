import { change, type CoreContext, type GrantRow } from './context';
import { DomainError } from './errors';
import { approverChannelOf } from './grant-transitions';
import { recordStep } from './steps';

/** What a configuration change left behind for grants that are not over yet. */
export interface LiveGrantProblems {
  /**
   * Grants whose provider instance is gone: nothing can revoke them. Hallpass refuses to start
   * until the provider is back or each is closed by hand.
   */
  unrevocable: string[];
  /** Grants whose resource is gone: they still end, through the provider recorded on them. */
  orphaned: string[];
}

function who(grant: GrantRow): string {
  return `grant ${grant.id} (${grant.userId} on ${grant.resourceId}, ${grant.status})`;
}

/**
 * Checks the live grants against the configuration (and the provider instances that could be
 * created from it): one line per problem, saying what to do.
 */
export async function checkLiveGrants(
  ctx: CoreContext,
  providerNames: ReadonlySet<string>,
): Promise<LiveGrantProblems> {
  const problems: LiveGrantProblems = { unrevocable: [], orphaned: [] };
  for (const { provider, resourceId } of await ctx.store.grants.liveTargets()) {
    const resourceGone = !ctx.policy.findResource(resourceId);
    if (providerNames.has(provider) && !resourceGone) continue;
    const grants = await ctx.store.grants.liveOn(provider, resourceId);
    if (!providerNames.has(provider)) {
      for (const grant of grants) {
        problems.unrevocable.push(
          `${who(grant)} was granted through provider "${provider}", which is no longer configured: keep providers.${provider} until it ends, or close it by hand with \`hallpass grants close ${grant.id} --reason "…"\` and remove the access yourself`,
        );
      }
    } else {
      problems.orphaned.push(
        `resource ${resourceId} is no longer configured but ${grants.length} grant${grants.length === 1 ? ' is' : 's are'} not over (${grants.map((g) => g.id).join(', ')}); ${grants.length === 1 ? 'it' : 'they'} will still be revoked through provider "${provider}" as granted`,
      );
    }
  }
  return problems;
}

/**
 * An admin closes a grant Hallpass can no longer revoke (its provider instance is gone from the
 * configuration, or its revoke keeps failing): the record says so plainly (`stranded`, not
 * revoked: the access may still be there), the approver channel and the admins are told to
 * remove it by hand, and it is audited.
 */
export function closeByHand(
  ctx: CoreContext,
  grantId: string,
  actor: string,
  reason: string,
): Promise<GrantRow> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant) throw new DomainError('not_found', `No grant ${grantId}.`);
    if (!['activating', 'active', 'revoking'].includes(grant.status)) {
      throw new DomainError('bad_state', `Grant ${grant.id} is already ${grant.status}.`);
    }
    const configured = grant.provider in ctx.config.providers;
    // Its provider is there but cannot confirm the revoke (the group it granted was deleted, and
    // the provider cannot tell that from one it may no longer see): the admin decides.
    const failing = grant.status === 'revoking' && grant.lastError?.startsWith('revoke: ');
    if (configured && !failing) {
      throw new DomainError(
        'bad_state',
        `Grant ${grant.id}'s provider "${grant.provider}" is still configured: revoke it (\`hallpass grants revoke\`) so Hallpass removes the access and confirms it. A grant whose revoke keeps failing can be closed by hand.`,
      );
    }
    const closed = {
      status: 'stranded' as const,
      endReason: configured ? grant.endReason : ('provider_removed' as const),
      endedBy: actor,
      endNote: reason.trim().slice(0, 500),
      endedAt: c.now,
      nextAttemptAt: null,
      recheckAt: null,
    };
    await c.tx.grants.update(grant.id, closed);
    recordStep(c, {
      actor,
      action: 'grant.closed_by_hand',
      requestId: grant.requestId,
      grantId: grant.id,
      details: { provider: grant.provider, note: closed.endNote, from: grant.status },
      redraw: grant.requestId,
    });
    c.notify(`alert:${grant.id}:close`, {
      topic: 'alert',
      grantId: grant.id,
      channel: approverChannelOf(ctx, grant),
      admins: ctx.config.admins,
      action: 'close',
      attempts: grant.attempts,
      error: `${configured ? `its revoke keeps failing (${grant.lastError})` : `provider "${grant.provider}" is no longer configured`}; closed by hand by ${actor}: ${closed.endNote}`,
    });
    return { ...grant, ...closed };
  });
}
