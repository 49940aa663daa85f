import type { Resource } from '../config/schema';
import type { GrantRow } from './context';
import { termsOf } from './terms';

/**
 * The latest a grant that started at `startsAt` may be extended to: its start plus the smaller
 * of the longest total duration it was made with and the one its resource allows today (none
 * when the resource is gone). One rule for asking, deciding and applying an extension.
 */
export function extensionCeiling(
  grant: GrantRow,
  startsAt: number,
  resource: Resource | undefined,
): number {
  const recorded = termsOf(grant)?.maxTotalDurationMs ?? Number.MAX_SAFE_INTEGER;
  const today = resource?.maxTotalDuration ?? Number.MAX_SAFE_INTEGER;
  return startsAt + Math.min(recorded, today);
}
