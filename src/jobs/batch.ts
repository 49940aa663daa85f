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
  /**
   * While this says so, the window is not up: the flush waits for work that matters more to be
   * done first, until `maxItems` are waiting or the first has waited `maxHoldMs`.
   */
  holdWhile?: () => boolean;
  maxHoldMs?: number;
  /**
   * A flush hands `flush` at most this many at a time, one piece after another with the event loop
   * let run between them: a big batch never holds the thread for longer than one piece takes.
   */
  maxFlush?: number;
}

/**
 * Gathers items that come in close together and hands them to `flush` at once: the results of
 * provider calls that finish within a few milliseconds are recorded in one transaction instead
 * of one each (a commit costs more than the rows in it). Each add() settles with its own
 * result, or with the error when the flush of its piece threw.
 */
export class Batch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private timer?: NodeJS.Timeout;
  /** When the first item waiting came in. */
  private since = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly limits: BatchLimits,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.waiting.length === 0) this.since = Date.now();
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.limits.maxItems) this.drain();
      else this.timer ??= setTimeout(() => this.windowUp(), this.limits.windowMs);
    });
  }

  private windowUp(): void {
    this.timer = undefined;
    const { holdWhile, maxHoldMs = Infinity, windowMs } = this.limits;
    if (holdWhile?.() && Date.now() - this.since < maxHoldMs)
      this.timer = setTimeout(() => this.windowUp(), windowMs);
    else this.drain();
  }

  /** Flushes what is waiting now; each add() settles when the flush of its piece does. */
  drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    void this.flushInPieces(batch);
  }

  /** The first piece at once, each next one after the last has settled and the loop has run. */
  private async flushInPieces(batch: Waiting<T, R>[]): Promise<void> {
    const size = this.limits.maxFlush ?? batch.length;
    for (let i = 0; i < batch.length; i += size) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await this.flushPiece(batch.slice(i, i + size));
    }
  }

  private flushPiece(piece: Waiting<T, R>[]): Promise<void> {
    return this.flush(piece.map((w) => w.item)).then(
      (results) => piece.forEach((w, i) => w.resolve(results[i]!)),
      (err: unknown) => {
        for (const w of piece) w.reject(err);
      },
    );
  }
}
