import { ProviderCallError } from './provider-call';

/**
 * The provider calls this process makes, tracked per grant. A call that runs past its timeout is
 * given up on, but it is not over: its request may still reach the target system and land
 * later (a webhook receiver that applies it after answering, a command or a module adapter that
 * ignores the abort). Until it settles, and for one more timeout after it was given up (an
 * aborted call settles here at once), nothing may conclude what the target system holds: a
 * revoke waits for it first, so a late grant cannot land after the revoke that was meant to
 * clean it up.
 */
export class ProviderCalls {
  private readonly unsettled = new Map<string, Set<Promise<unknown>>>();

  /**
   * Runs `call` with `timeoutMs`: its signal aborts at the timeout and the returned promise
   * rejects with a "timed out" error then, while the call itself stays tracked until it settles.
   */
  run<T>(
    grantId: string,
    timeoutMs: number,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    // A call that throws at once is a failed call like any other.
    const running = Promise.resolve().then(() => call(controller.signal));
    this.track(grantId, running);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ProviderCallError(`timed out after ${timeoutMs} ms`);
        // An aborted call settles here at once, but its request may already be on its way and
        // be applied later (a webhook receiver that acts after we hung up): it counts as out
        // for another timeout whatever happened on this side.
        this.track(grantId, afterMs(timeoutMs));
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
  }

  /** Whether a call for this grant is still out (timed out or not). */
  pending(grantId: string): boolean {
    return (this.unsettled.get(grantId)?.size ?? 0) > 0;
  }

  /**
   * Waits until every call for the grant has settled, or `graceMs` has passed; true when they
   * all settled. A call still out after the grace is left to the read-backs that follow the end.
   */
  async settled(grantId: string, graceMs: number): Promise<boolean> {
    const calls = this.unsettled.get(grantId);
    if (!calls || calls.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
      timer.unref();
    });
    const all = Promise.allSettled([...calls]).then(() => true as const);
    try {
      return await Promise.race([all, grace]);
    } finally {
      clearTimeout(timer);
    }
  }

  private track(grantId: string, call: Promise<unknown>): void {
    let calls = this.unsettled.get(grantId);
    if (!calls) this.unsettled.set(grantId, (calls = new Set()));
    calls.add(call);
    const done = () => {
      calls.delete(call);
      if (calls.size === 0 && this.unsettled.get(grantId) === calls) this.unsettled.delete(grantId);
    };
    call.then(done, done);
  }
}

function afterMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
