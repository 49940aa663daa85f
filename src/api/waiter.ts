import type { Core } from '../core';

/**
 * Long-polls woken by the core: every committed change wakes the waiters, which read their own
 * request again. Changes made by another replica commit there, so a waiter also looks again
 * every `recheckMs` on its own.
 */
export class Waiters {
  private readonly wakers = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    core: Core,
    private readonly recheckMs = 5_000,
  ) {
    this.unsubscribe = core.onCommit(() => this.wakeAll());
  }

  /**
   * Calls `probe` until it answers, `timeoutMs` passes, `signal` aborts (the caller hung up) or
   * the API closes; resolves with the last answer, undefined when there was none.
   */
  async until<T>(
    probe: () => Promise<T | undefined>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await probe();
      const left = deadline - Date.now();
      if (found !== undefined || left <= 0 || signal.aborted || this.closed) return found;
      await this.sleep(Math.min(left, this.recheckMs), signal);
    }
  }

  /** Ends every wait now (they answer with what they have): the server is stopping. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.wakeAll();
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
      signal.addEventListener('abort', done);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
