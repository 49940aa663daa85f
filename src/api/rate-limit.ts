/**
 * Calls per caller per window, on this replica: a pipeline stuck in a loop is slowed down
 * before it fills the approver channel or the database. Fixed windows: cheap, and a burst at a
 * window's edge is at most twice the limit.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts a call; when over the limit, resolves with the seconds until the window ends. */
  take(key: string, now: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (this.windows.size > 10_000) this.prune(now);
    let window = this.windows.get(key);
    if (!window || now >= window.start + this.windowMs) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= this.limit) {
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000)),
      };
    }
    window.count++;
    return { ok: true };
  }

  private prune(now: number): void {
    for (const [key, window] of this.windows)
      if (now >= window.start + this.windowMs) this.windows.delete(key);
  }
}
