interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export interface BatchLimits {
  /** Flush this long after the first item came in, at the latest. */
  windowMs: number;
  /** Flush at once when this many are waiting. */
  maxItems: number;
}

/**
 * Gathers items that come in close together and hands them to `flush` at once: the results of
 * provider calls that finish within a few milliseconds are recorded in one transaction instead
 * of one each (a commit costs more than the rows in it). Each add() settles with its own
 * result, or with the error when the flush threw.
 */
export class Batch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly limits: BatchLimits,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.limits.maxItems) this.drain();
      else this.timer ??= setTimeout(() => this.drain(), this.limits.windowMs);
    });
  }

  /** Flushes what is waiting now; each add() settles when its flush does. */
  drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.flush(batch.map((w) => w.item)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i]!)),
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
