import { Mutex } from './mutex';

/** The changes a PostgreSQL store lets wait in a process when not told otherwise. */
export const DEFAULT_MAX_QUEUED_CHANGES = 1_000;

/** The code `ChangeQueueFull` carries, so `isStoreBusy` knows it like a driver's busy error. */
export const CHANGES_QUEUED = 'HALLPASS_CHANGES_QUEUED';

/**
 * A change refused before it began, because too many of this process's changes already wait for
 * the database: nothing was written, and trying again later is the fix.
 */
export class ChangeQueueFull extends Error {
  readonly code = CHANGES_QUEUED;

  constructor(readonly waiting: number) {
    super(
      `${waiting} changes of this process are already waiting for the database, so this one was refused before it began`,
    );
    this.name = 'ChangeQueueFull';
  }
}

/**
 * A process's changes, one at a time in the order they came, with a bound on how many may wait.
 * When the database falls behind the load (a slow server, a long failover), an unbounded queue
 * only grows: memory with it, and every waiter's answer comes later than anyone still waits for
 * it. Past the bound a new change is refused at once, so the person or job behind it hears
 * "busy, try again" while the changes already queued still go through.
 */
export class ChangeQueue {
  private readonly turns = new Mutex();
  private refusedSoFar = 0;

  constructor(private readonly maxWaiting: number = DEFAULT_MAX_QUEUED_CHANGES) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 1)
      throw new Error(`a change queue lets at least 1 change wait, not ${maxWaiting}`);
  }

  /** Changes waiting for their turn (not the one running). */
  get waiting(): number {
    return this.turns.waitingCount;
  }

  /** Changes refused since the queue was made, for an operator asking why a request failed. */
  get refused(): number {
    return this.refusedSoFar;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const waiting = this.turns.waitingCount;
    if (waiting >= this.maxWaiting) {
      this.refusedSoFar++;
      return Promise.reject(new ChangeQueueFull(waiting));
    }
    return this.turns.run(work);
  }
}
