/**
 * One holder at a time, first come first served. SQLite has one write connection per process:
 * a transaction's statements must not interleave with another's while it awaits between them.
 */
export class Mutex {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  /** How many wait for the holder to finish. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    try {
      return await work();
    } finally {
      // Hand the lock straight to the next waiter, so nobody can slip in between.
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}
