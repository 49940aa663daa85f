import { change, type CoreContext, type GrantRow } from './context';
import { DomainError } from './errors';
import { approverChannelOf } from './grant-transitions';
import { recordStep } from './steps';
import { movedSettings, termsOf, type ProviderPlaces } from './terms';

/** What a configuration change left behind for grants that are not over yet. */
export interface LiveGrantProblems {
  /**
   * Grants whose provider instance is gone, or points elsewhere than where they were made:
   * nothing can revoke them. Hallpass refuses to start until the provider is back as it was or
   * each is closed by hand.
   */
  unrevocable: string[];
  /** Grants whose resource is gone: they still end, through the provider recorded on them. */
  orphaned: string[];
}

function who(grant: GrantRow): string {
  return `grant ${grant.id} (${grant.userId} on ${grant.resourceId}, ${grant.status})`;
}

/** Why a grant's provider instance cannot act on it today; undefined when it can. */
function unreachable(
  grant: Pick<GrantRow, 'provider' | 'snapshot'>,
  places: ProviderPlaces,
): string | undefined {
  if (!places.has(grant.provider)) {
    return `provider "${grant.provider}", which is no longer configured`;
  }
  const today = places.get(grant.provider);
  if (!today) return undefined;
  const moved = movedSettings(termsOf(grant), today);
  if (moved.length === 0) return undefined;
  const settings = moved.map((key) => `providers.${grant.provider}.${key}`).join(', ');
  return `provider "${grant.provider}", whose ${settings} changed since (it now points elsewhere)`;
}

/**
 * Checks the live grants against the configuration and where each provider instance it
 * configures points (`places`, by name): one line per problem, saying what to do.
 */
export async function checkLiveGrants(
  ctx: CoreContext,
  places: ProviderPlaces,
): Promise<LiveGrantProblems> {
  const problems: LiveGrantProblems = { unrevocable: [], orphaned: [] };
  // A gone resource is told once, whatever terms its grants were made under.
  const orphans = new Map<string, { provider: string; resourceId: string; ids: string[] }>();
  for (const { provider, resourceId, snapshot } of await ctx.store.grants.liveTargets()) {
    const resourceGone = !ctx.policy.findResource(resourceId);
    const stranded = unreachable({ provider, snapshot }, places);
    if (!stranded && !resourceGone) continue;
    const grants = (await ctx.store.grants.liveOn(provider, resourceId)).filter(
      (grant) => grant.snapshot === snapshot,
    );
    if (stranded) {
      for (const grant of grants) {
        const keep = places.has(provider)
          ? `keep providers.${provider} as it was until the grant ends (configure the new place as a provider of its own and point the resources at it)`
          : `keep providers.${provider} until it ends`;
        problems.unrevocable.push(
          `${who(grant)} was granted through ${stranded}: ${keep}, or close it by hand with \`hallpass grants close ${grant.id} --reason "…"\` and remove the access yourself`,
        );
      }
    } else {
      const key = `${provider}\n${resourceId}`;
      const orphan = orphans.get(key) ?? { provider, resourceId, ids: [] };
      orphan.ids.push(...grants.map((g) => g.id));
      orphans.set(key, orphan);
    }
  }
  for (const { provider, resourceId, ids } of orphans.values()) {
    const one = ids.length === 1;
    problems.orphaned.push(
      `resource ${resourceId} is no longer configured but ${ids.length} grant${one ? ' is' : 's are'} not over (${ids.sort().join(', ')}); ${one ? 'it' : 'they'} will still be revoked through provider "${provider}" as granted`,
    );
  }
  return problems;
}

/**
 * An admin closes a grant Hallpass can no longer revoke (its provider instance is gone from the
 * configuration or points elsewhere now, or its revoke keeps failing): the record says so
 * plainly (`stranded`, not revoked: the access may still be there), the approver channel and the
 * admins are told to remove it by hand, and it is audited.
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
    // Without today's places (a CLI that did not read them) only a removal is seen.
    const stranded = ctx.providerPlaces
      ? unreachable(grant, ctx.providerPlaces)
      : grant.provider in ctx.config.providers
        ? undefined
        : `provider "${grant.provider}", which is no longer configured`;
    // Its provider is there but cannot confirm the revoke (the group it granted was deleted, and
    // the provider cannot tell that from one it may no longer see): the admin decides.
    const failing = grant.status === 'revoking' && grant.lastError?.startsWith('revoke: ');
    if (!stranded && !failing) {
      throw new DomainError(
        'bad_state',
        `Grant ${grant.id}'s provider "${grant.provider}" is still configured: revoke it (\`hallpass grants revoke\`) so Hallpass removes the access and confirms it. A grant whose revoke keeps failing can be closed by hand.`,
      );
    }
    const moved = stranded !== undefined && grant.provider in ctx.config.providers;
    const closed = {
      status: 'stranded' as const,
      endReason: !stranded
        ? grant.endReason
        : moved
          ? ('provider_moved' as const)
          : ('provider_removed' as const),
      endedBy: actor,
      endNote: reason.trim().slice(0, 500),
      endedAt: c.now,
      nextAttemptAt: null,
      recheckAt: null,
    };
    await c.tx.grants.set(grant.id, closed);
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
      error: `${stranded ? `it was granted through ${stranded}` : `its revoke keeps failing (${grant.lastError})`}; closed by hand by ${actor}: ${closed.endNote}`,
    });
    return { ...grant, ...closed };
  });
}
