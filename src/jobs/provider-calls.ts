import { ProviderCallError } from './provider-call';
import { startNow } from './start-now';

/**
 * The provider calls this process makes, tracked per grant. A call that runs past its timeout is
 * given up on, but it is not over: its request may still reach the target system and land
 * later (a webhook receiver that applies it after answering, a command or a module adapter that
 * ignores the abort). Until it settles, and for two more timeouts after it was given up (an
 * aborted call settles here at once; the fence it leaves in the database spans as long), nothing
 * may conclude what the target system holds: a revoke waits for it first, so a late grant cannot
 * land after the revoke that was meant to clean it up, and the next activation of a shared
 * access waits for a late revoke even where its fence could not be written.
 */
export class ProviderCalls {
  /** How many calls of each grant are out, and who waits for them to settle. */
  private readonly unsettled = new Map<string, { out: number; waiting: (() => void)[] }>();

  /**
   * Runs `call` with `timeoutMs`: its signal aborts at the timeout and the returned promise
   * rejects with a "timed out" error then, while the call itself stays tracked until it settles.
   * One promise and one timer per call: a mass expiry makes thousands of these on the thread
   * that makes the calls, where every microsecond lengthens the revocation lag.
   */
  run<T>(
    grantId: string,
    timeoutMs: number,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      // A call that throws at once is a failed call like any other.
      const running = startNow(() => call(controller.signal));
      this.begin(grantId);
      const timer = setTimeout(() => {
        const error = new ProviderCallError(`timed out after ${timeoutMs} ms`);
        // An aborted call settles here at once, but its request may already be on its way and
        // be applied later (a webhook receiver that acts after we hung up): it counts as out
        // for as long as its fence (the sweeper's fenceFor) whatever happened on this side.
        this.begin(grantId);
        setTimeout(() => this.end(grantId), 2 * timeoutMs).unref();
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      running.then(
        (value) => {
          clearTimeout(timer);
          this.end(grantId);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          this.end(grantId);
          reject(err);
        },
      );
    });
  }

  /** Whether a call for this grant is still out (timed out or not). */
  pending(grantId: string): boolean {
    return this.unsettled.has(grantId);
  }

  /**
   * Waits until no call for the grant is out, or `graceMs` has passed; true when none is. A call
   * still out after the grace is left to the read-backs that follow the end.
   */
  settled(grantId: string, graceMs: number): Promise<boolean> {
    const calls = this.unsettled.get(grantId);
    if (!calls) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      timer.unref();
      calls.waiting.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private begin(grantId: string): void {
    const calls = this.unsettled.get(grantId);
    if (calls) calls.out++;
    else this.unsettled.set(grantId, { out: 1, waiting: [] });
  }

  private end(grantId: string): void {
    const calls = this.unsettled.get(grantId)!;
    if (--calls.out > 0) return;
    this.unsettled.delete(grantId);
    for (const wake of calls.waiting) wake();
  }
}
