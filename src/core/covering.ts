import { canonicalJson } from '../chain/canonical-json';
import type { CoreContext, GrantRow } from './context';
import { TAKE_AHEAD_MS } from './grant-transitions';
import { termsOf } from './terms';

/**
 * Whether two grants of one person and resource act on the same place at the provider: the same
 * provider instance and the same target, as recorded when each was made. After the target of a
 * resource is edited, a grant made before and one made after reach different places, and ending
 * one must not be skipped for the other. Grants made before terms were recorded compare by
 * resource, as they always did. Whether they reach the same account there is for the caller
 * (`coveringEach`'s `sameAccount`): that takes the provider and the directory.
 */
export function sameAccess(a: GrantRow, b: GrantRow): boolean {
  if (a.userId !== b.userId || a.resourceId !== b.resourceId || a.provider !== b.provider)
    return false;
  const [ours, theirs] = [termsOf(a), termsOf(b)];
  if (!ours || !theirs) return true;
  return (
    ours.provider === theirs.provider && canonicalJson(ours.target) === canonicalJson(theirs.target)
  );
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
  sameAccount: (ending: GrantRow, cover: GrantRow) => Promise<boolean>,
): Promise<Map<string, GrantRow>> {
  const covers = new Map<string, GrantRow>();
  if (grants.length === 0) return covers;
  const now = ctx.clock.now();
  const live = await ctx.store.grants.liveAlongside(grants, now, now + TAKE_AHEAD_MS);
  for (const grant of grants) {
    for (const g of live) {
      if (g.id === grant.id || !sameAccess(g, grant) || !(await sameAccount(grant, g))) continue;
      covers.set(grant.id, g);
      break;
    }
  }
  return covers;
}
