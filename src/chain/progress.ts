/** How often a long chain walk reports how far it got. */
export const PROGRESS_EVERY = 100_000;

/**
 * Turns "rows verified so far", reported whenever a walk gets to it (a page, a worker's range),
 * into one call per multiple of PROGRESS_EVERY, once each, in order: every store and walk
 * reports progress at the same rows.
 */
export function progressTo(onProgress?: (verified: number) => void): (verified: number) => void {
  let next = PROGRESS_EVERY;
  return (verified) => {
    for (; onProgress && next <= verified; next += PROGRESS_EVERY) onProgress(next);
  };
}
