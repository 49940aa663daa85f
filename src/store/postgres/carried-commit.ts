import type { PoolClient } from 'pg';
import type { Held, PgTransactionRunner } from './runner';

/** Whether a transaction committed, by its id, once it is over (PostgreSQL 10 and later). */
const STATUS = 'SELECT txid_status($1) AS status';

/**
 * A change's COMMIT, with the writes held for it, carried unsent into the first round trip of the
 * change after it on the same connection, when that change is already waiting. Under load each
 * change then costs the one change connection a round trip less, and every round trip there is
 * time all the changes behind it wait. The change that carried it is answered only when its
 * COMMIT is: `committed` settles with what the server did with it, however the next change fares.
 */
export class CarriedCommit {
  readonly committed: Promise<void>;
  readonly statements: Held[];
  private settled = false;
  private sentAlone?: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: unknown) => void;

  /** Takes `runner`'s held writes and COMMIT; `xid` is its transaction's id. */
  constructor(
    readonly client: PoolClient,
    runner: PgTransactionRunner,
    private readonly xid: number,
  ) {
    this.committed = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.statements = runner.takeCommit(() => this.settle());
  }

  /**
   * Sends it on its own unless it has gone: the next change has failed before its first round
   * trip, or has not sent one in the turn of the event loop it started in (it awaits something
   * else first), and a commit must not wait on that.
   */
  sendAlone(runner: PgTransactionRunner): Promise<void> {
    if (this.sentAlone || !runner.stillHolds(this.statements)) return this.sentAlone ?? done;
    this.sentAlone = runner.sendOnly(this.statements).catch(async (err: unknown) => {
      await this.client.query('ROLLBACK').catch(() => undefined);
      this.settle(err);
    });
    return this.sentAlone;
  }

  /**
   * Settles it after the next change failed with `failure` before the COMMIT was answered, and
   * says whether that change's own statements never ran, so it starts again. Went in the failed
   * round trip: the server runs nothing after a statement that fails, so whether this transaction
   * committed says whose statement it was. Its status is read after a ROLLBACK ends whichever
   * transaction the failure left open. With the connection gone that is unknown, as it is when a
   * change's own COMMIT loses its connection: the change is told it failed.
   */
  async settleAfter(runner: PgTransactionRunner, failure: unknown): Promise<boolean> {
    if (this.sentAlone || runner.stillHolds(this.statements)) {
      await this.sendAlone(runner);
      return false;
    }
    if (this.settled) return false;
    try {
      await this.client.query('ROLLBACK');
      const { rows } = await this.client.query<{ status: string | null }>(STATUS, [this.xid]);
      if (rows[0]?.status === 'committed') {
        this.settle();
        return false;
      }
    } catch {
      this.settle(failure);
      return false;
    }
    this.settle(failure);
    return true;
  }

  private settle(err?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (err === undefined) this.resolve();
    else this.reject(err);
  }
}

const done = Promise.resolve();
