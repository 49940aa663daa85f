/** Why a call was cut short, for error messages (the sweeper aborts with a TimeoutError). */
export function abortReason(signal: AbortSignal): string {
  // Duck-typed: a DOMException is not an Error of every realm (jest's, for one).
  const reason = signal.reason as { name?: unknown; message?: unknown } | undefined;
  if (reason?.name === 'TimeoutError') return 'timed out';
  if (typeof reason?.message === 'string' && reason.message) return `aborted: ${reason.message}`;
  return reason === undefined ? 'aborted' : `aborted: ${String(reason)}`;
}

/**
 * Runs `work` but settles as soon as `signal` aborts, for clients that take no signal: the call
 * may still finish in the background, its result is ignored.
 */
export async function raceAbort<T>(
  signal: AbortSignal,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw new Error(`${what} ${abortReason(signal)}`);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(`${what} ${abortReason(signal)}`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
