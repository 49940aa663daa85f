import { startNow } from './start-now';

/**
 * Runs work for one key strictly in the order it was handed in, and work for different keys at
 * once. The place in line is taken when `run` is called, not when the work starts, so callers
 * that take items from a queue in order keep that order per key.
 */
export class InOrder {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    // With nothing ahead in line the work starts at once, not a turn later: every revoke of a
    // mass expiry on shared access comes through here.
    const mine = before ? before.then(work) : startNow(work);
    // The last one out forgets the key, so the map holds only keys with work waiting.
    const forget = () => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    const tail: Promise<void> = mine.then(forget, forget);
    this.tails.set(key, tail);
    return mine;
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
