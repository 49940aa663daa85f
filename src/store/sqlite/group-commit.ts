/** How a group of changes drives the one write connection's transaction. */
export interface TransactionControl {
  /**
   * Opens the write transaction, waiting for the write lock as the store does; the wait is
   * bounded from `since`, when the change that opens it was asked for.
   */
  begin(since: number): Promise<void>;
  commit(): void;
  rollback(): void;
  /** Marks where the next change starts, so that it can be undone alone. */
  savepoint(): void;
  /** Keeps what the change since the savepoint wrote, inside the transaction. */
  release(): void;
  /** Undoes what the change since the savepoint wrote, and forgets the savepoint. */
  undoToSavepoint(): void;
  /** False once SQLite has rolled the whole transaction back by itself (disk full, I/O error). */
  inTransaction(): boolean;
}

interface Waiting {
  work: () => Promise<unknown>;
  /** When the change was asked for (Date.now()). */
  since: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Runs changes one at a time on the write connection, and lets the changes that queue up while
 * one runs, or in the turn of the event loop after it, share its transaction: each in a
 * savepoint of its own, so one that fails is undone alone, and all of them committed by one
 * COMMIT. Nobody hears that a change was made before that COMMIT. A commit costs several times
 * a small change on this machine (docs/performance-journal.md); under load, many changes start
 * in each turn.
 */
export class GroupCommit {
  private readonly queue: Waiting[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly tx: TransactionControl,
    /** At most this many changes share a commit, so the first one's caller is not kept long. */
    private readonly maxChanges: number,
  ) {}

  /** How many changes wait for the write connection. */
  get waitingCount(): number {
    return this.queue.length;
  }

  /** Runs `work` as a change; resolves with its value once it is committed. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        work,
        since: Date.now(),
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.draining ??= this.drain();
    });
  }

  /** Resolves once no change is queued or running. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.group();
    this.draining = undefined;
  }

  private async group(): Promise<void> {
    const first = this.queue.shift()!;
    try {
      await this.tx.begin(first.since);
    } catch (err) {
      first.reject(err);
      return;
    }
    const done: { change: Waiting; value: unknown }[] = [];
    let change = first;
    for (let tried = 1; ; tried++) {
      // The first change needs no savepoint: if it fails, nothing else is in the transaction.
      const nested = change !== first;
      if (nested) this.tx.savepoint();
      try {
        const value = await change.work();
        if (nested) this.tx.release();
        done.push({ change, value });
      } catch (err) {
        change.reject(err);
        if (!this.tx.inTransaction()) return rejectAll(done, err);
        if (!nested) {
          this.tx.rollback();
          return;
        }
        this.tx.undoToSavepoint();
      }
      if (tried >= this.maxChanges) break;
      // The loop takes a turn after each change, queued ones too: the requests and answers read
      // in it start the changes that join this commit, and a Slack click waiting for its ack is
      // answered. Run back to back, sixteen approvals held every ack for 30 to 50 ms at a time
      // under load (docs/performance-journal.md).
      await nextTurn();
      const next = this.queue.shift();
      if (!next) break;
      change = next;
    }
    try {
      this.tx.commit();
    } catch (err) {
      if (this.tx.inTransaction()) this.tx.rollback();
      return rejectAll(done, err);
    }
    for (const { change, value } of done) change.resolve(value);
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The changes that were done but shared a transaction that did not commit. */
function rejectAll(done: readonly { change: Waiting }[], err: unknown): void {
  for (const { change } of done) change.reject(err);
}
