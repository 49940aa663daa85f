import { canonicalJson } from '../chain/canonical-json';
import type { CoreContext, GrantRow } from './context';
import { TAKE_AHEAD_MS } from './grant-transitions';
import { termsOf, type GrantTerms } from './terms';

/**
 * Where a grant acts at its provider: the provider instance (and where it pointed) and target
 * recorded when it was made, or, for a grant made before terms were recorded, its resource as
 * configured today (which its calls use too). Undefined when neither is known (such a grant's
 * resource was removed).
 */
function placeOf(
  ctx: CoreContext,
  grant: GrantRow,
): Pick<GrantTerms, 'provider' | 'target' | 'providerPlace'> | undefined {
  const terms = termsOf(grant);
  if (terms) return terms;
  const resource = ctx.policy.findResource(grant.resourceId);
  return resource && { provider: grant.provider, target: ctx.resolveTarget(resource) };
}

/**
 * Whether two grants of one person act on the same place at the provider: the same provider
 * instance, pointing at the same system, and the same target (`placeOf`), whatever resource they
 * came from. After the target
 * of a resource is edited, a grant made before and one made after reach different places, and
 * ending one must not be skipped for the other. Whether the provider tells two resources' accesses
 * apart at one place, and whether the grants reach the same account there, is for the caller
 * (`coveringEach`'s `oneAccess`): that takes the provider and the directory.
 */
function sameAccess(ctx: CoreContext, a: GrantRow, b: GrantRow): boolean {
  if (a.userId !== b.userId || a.provider !== b.provider) return false;
  const [ours, theirs] = [placeOf(ctx, a), placeOf(ctx, b)];
  if (!ours || !theirs) return a.resourceId === b.resourceId;
  // Made where the instance pointed elsewhere (a replica on a moved file): another system's
  // access. A grant that recorded no place was made before places were, wherever it pointed.
  const elsewhere =
    ours.providerPlace !== undefined &&
    theirs.providerPlace !== undefined &&
    canonicalJson(ours.providerPlace) !== canonicalJson(theirs.providerPlace);
  return (
    !elsewhere &&
    ours.provider === theirs.provider &&
    canonicalJson(ours.target) === canonicalJson(theirs.target)
  );
}

/** Which ending grants another grant covers, read once for many. */
export interface Covers {
  /** Each covered grant's id to a grant that still gives its holder the same access. */
  by: Map<string, GrantRow>;
  /**
   * Grants of the same access as one being activated whose attempt is not due (its grant call
   * out, a retry later, or booked to start later): by the time such a grant's revoke takes its
   * turn, that activation may have landed, so the revoke asks again then.
   */
  askAgain: Set<string>;
}

/**
 * For each of `grants` (ending, on a provider where a person's grants share one access), another
 * grant that still gives its holder that same access, so the revoke must not take it away: one
 * active and unexpired, or activating with its attempt due now (taken up to TAKE_AHEAD_MS
 * early), whose grant call would give it back anyway. A grant booked to start later, or waiting
 * to retry a failed call, covers nothing: the revoke goes first, and its own call grants the
 * access again when its time comes. In one read for all of them.
 */
export async function coveringEach(
  ctx: CoreContext,
  grants: readonly GrantRow[],
  oneAccess: (ending: GrantRow, cover: GrantRow) => Promise<boolean>,
): Promise<Covers> {
  const covers: Covers = { by: new Map(), askAgain: new Set() };
  if (grants.length === 0) return covers;
  const now = ctx.clock.now();
  const live = await ctx.store.grants.liveAlongside(grants, now);
  for (const grant of grants) {
    for (const g of live) {
      if (g.id === grant.id || !sameAccess(ctx, g, grant) || !(await oneAccess(grant, g))) continue;
      if (g.status === 'activating' && (g.nextAttemptAt ?? 0) > now + TAKE_AHEAD_MS) {
        covers.askAgain.add(grant.id);
        continue;
      }
      covers.by.set(grant.id, g);
      covers.askAgain.delete(grant.id);
      break;
    }
  }
  return covers;
}

/**
 * The other grants of `grant`'s access (`sameAccess`, then the caller's `oneAccess`, as for
 * `coveringEach`) whose revoke may still be out: being revoked, or ended with a fence ahead (a
 * revoke that timed out may still land until then) or at `endedSince` or later (the caller's
 * say: one another process may have sent before the caller took over). An activation of `grant`
 * made before such a revoke has landed would be undone by it, while the record says the access
 * is there.
 */
export async function endingAlongside(
  ctx: CoreContext,
  grant: GrantRow,
  oneAccess: (ending: GrantRow, activating: GrantRow) => Promise<boolean>,
  endedSince = Number.MAX_SAFE_INTEGER,
): Promise<GrantRow[]> {
  const ending = await ctx.store.grants.endingAlongside(grant, ctx.clock.now(), endedSince);
  const found: GrantRow[] = [];
  for (const g of ending) {
    if (sameAccess(ctx, g, grant) && (await oneAccess(g, grant))) found.push(g);
  }
  return found;
}
