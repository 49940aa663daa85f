/**
 * Exponential backoff with jitter, bounded: attempt 1 waits about `base`, each next one twice as
 * long, never more than `max`. The jitter keeps many failing grants from retrying in lockstep.
 */
export function backoffDelay(
  attempt: number,
  base: number,
  max: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
