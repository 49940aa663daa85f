/**
 * Starts `work` at once, a throw turned into a rejection as if it had started a turn later: the
 * same failure either way, without the turn, which a mass expiry pays thousands of times.
 */
export function startNow<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (err) {
    return Promise.reject(err);
  }
}
