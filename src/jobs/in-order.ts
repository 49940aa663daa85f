/**
 * Runs work for one key strictly in the order it was handed in, and work for different keys at
 * once. The place in line is taken when `run` is called, not when the work starts, so callers
 * that take items from a queue in order keep that order per key.
 */
export class InOrder {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(work);
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    // The last one out forgets the key, so the map holds only keys with work waiting.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return mine;
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
